package rehearsal_test

// The CodeDeploy agent (aws-codedeploy-agent, lib/instance_agent/plugins/codedeploy at commit
// 800eb28), as the rehearsal's instance plays it. This file runs inside the instance's namespaces
// (see TestMain); the line numbers cite that commit.

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// inPlaceEvents is an in-place deployment's order of events behind a load balancer
// (DeploymentOption WITH_TRAFFIC_CONTROL). DownloadBundle, Install, BlockTraffic and AllowTraffic
// are the agent's and CodeDeploy's own; the others run the appspec's hooks.
var inPlaceEvents = []string{
	"BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic", "ApplicationStop", "DownloadBundle", "BeforeInstall",
	"Install", "AfterInstall", "ApplicationStart", "ValidateService", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic",
}

// fromLastSuccessful lists the hooks that run from the last successful install's revision, not
// the deployment's own (hook_executor.rb lines 71-79). An in-place rollback uses the same mapping:
// only a BLUE_GREEN rollback switches (lines 264-269).
var fromLastSuccessful = []string{"BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop"}

// ignorable are the events that ignoreApplicationStopFailures lets fail (CodeDeploy API,
// CreateDeployment): the deployment goes on with the next event.
var ignorable = fromLastSuccessful

// agent is one instance's CodeDeploy agent.
type agent struct {
	root        string           // its deployment-root
	group       string           // the deployment group's id
	env         []string         // its own environment, which every hook inherits
	targetGroup targetGroup      // the load balancer's, for AllowTraffic
	probe       time.Duration    // the pause between the load balancer's health checks
	groups      map[int]struct{} // process groups the hooks started, for the rehearsal's cleanup
}

// deploy runs d's lifecycle and reports how far it got.
func (a *agent) deploy(d deploymentJob) deploymentResult {
	r := deploymentResult{ID: d.ID, Status: "Succeeded"}
	dir := filepath.Join(a.root, a.group, d.ID)
	for _, event := range inPlaceEvents {
		e := eventResult{Name: event, Status: "Succeeded"}
		start := time.Now()
		var err error
		switch event {
		case "BlockTraffic":
			// Deregistering from the target group changes nothing the instance sees.
		case "DownloadBundle":
			err = a.download(d.Bundle, dir)
		case "Install":
			if err = a.install(dir); err == nil {
				// The agent records the revision as the last successful one as soon as its Install
				// step succeeds, before its own hooks run (command_executor.rb line 184).
				err = os.WriteFile(a.lastSuccessfulFile(), []byte(dir), 0o644)
			}
		case "AllowTraffic":
			e.Log, err = a.targetGroup.allowTraffic(instanceAddress, a.probe)
		default:
			revision := dir
			if slices.Contains(fromLastSuccessful, event) {
				revision = a.lastSuccessful()
			}
			e.Revision = revision
			if revision != "" {
				e.Log, err = a.runHooks(event, revision, d)
			}
		}
		if err != nil {
			e.Status, e.Error = "Failed", err.Error()
		}
		e.Took = time.Since(start)
		r.Events = append(r.Events, e)
		if err != nil {
			if d.IgnoreApplicationStopFailures && slices.Contains(ignorable, event) {
				r.Events[len(r.Events)-1].Status = "Ignored"
				continue
			}
			r.Status, r.FailedEvent, r.Error = "Failed", event, err.Error()
			return r
		}
	}
	return r
}

func (a *agent) lastSuccessfulFile() string {
	return filepath.Join(a.root, "deployment-instructions", a.group+"_last_successful_install")
}

// lastSuccessful is the deployment folder the agent last installed, or "" before the first.
func (a *agent) lastSuccessful() string {
	b, err := os.ReadFile(a.lastSuccessfulFile())
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// download unpacks the revision as the agent does: unzip -qo into deployment-archive
// (linux_util.rb line 55).
func (a *agent) download(bundle, dir string) error {
	if err := waitForBundle(bundle); err != nil {
		return err
	}
	archive := filepath.Join(dir, "deployment-archive")
	if err := os.MkdirAll(archive, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("unzip", "-qo", bundle, "-d", archive).CombinedOutput(); err != nil {
		return fmt.Errorf("Error extracting zip archive: %v: %s", err, out)
	}
	return nil
}

func readAppSpec(archive string) (appspec, error) {
	var spec appspec
	b, err := os.ReadFile(filepath.Join(archive, "appspec.yml"))
	if err != nil {
		return spec, fmt.Errorf("The CodeDeploy agent did not find an AppSpec file within the unpacked revision directory at revision-relative path \"appspec.yml\": %w", err)
	}
	if err := yamlUnmarshal(b, &spec); err != nil {
		return spec, err
	}
	if spec.Version != "0.0" || spec.OS != "linux" {
		return spec, fmt.Errorf("appspec version %q, os %q: the agent supports version 0.0 on linux", spec.Version, spec.OS)
	}
	return spec, nil
}

// install copies the revision's files and applies its permissions as the agent's Installer does
// (installer.rb): it first removes what the previous install copied (the group's cleanup file),
// then copies each files entry (a folder recursively), honouring file_exists_behavior, and
// records the copies in a new cleanup file. Permissions apply to copied files whose type includes
// "file"; owner and group are looked up as Etc.getpwnam and Etc.getgrnam do
// (install_instruction.rb lines 337-341).
func (a *agent) install(dir string) error {
	archive := filepath.Join(dir, "deployment-archive")
	spec, err := readAppSpec(archive)
	if err != nil {
		return err
	}
	instructions := filepath.Join(a.root, "deployment-instructions")
	if err := os.MkdirAll(instructions, 0o755); err != nil {
		return err
	}
	cleanup := filepath.Join(instructions, a.group+"-cleanup")
	if b, err := os.ReadFile(cleanup); err == nil {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			// A folder that is not empty stays (install_instruction.rb lines 206-219).
			if info, err := os.Lstat(lines[i]); err == nil && (!info.IsDir() || isEmpty(lines[i])) {
				os.Remove(lines[i])
			}
		}
		os.Remove(cleanup)
	}
	behavior := spec.FileExistsBehavior
	if behavior == "" {
		behavior = "DISALLOW" // CreateDeployment's default
	}
	var copied []string
	copyFile := func(src, dst string) error {
		if _, err := os.Lstat(dst); err == nil {
			switch behavior {
			case "DISALLOW":
				return fmt.Errorf("The deployment failed because a specified file already exists at this location: %s", dst)
			case "RETAIN":
				return nil
			case "OVERWRITE":
			default:
				return fmt.Errorf("The deployment failed because an invalid option was specified for fileExistsBehavior: %s", behavior)
			}
		}
		if err := mkdirs(filepath.Dir(dst), &copied); err != nil {
			return err
		}
		copied = append(copied, dst)
		// FileUtils.copy with :preserve => true keeps the archive's mode.
		return exec.Command("cp", "-p", src, dst).Run()
	}
	for _, f := range spec.Files {
		src := filepath.Join(archive, f.Source)
		info, err := os.Stat(src)
		if err != nil {
			return err
		}
		if !info.IsDir() {
			if err := copyFile(src, filepath.Join(f.Destination, filepath.Base(src))); err != nil {
				return err
			}
			continue
		}
		err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			return copyFile(p, filepath.Join(f.Destination, rel))
		})
		if err != nil {
			return err
		}
	}
	if err := os.WriteFile(cleanup, []byte(strings.Join(copied, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	for _, p := range spec.Permissions {
		if !slices.Contains(copied, p.Object) || !slices.Contains(p.Type, "file") {
			continue
		}
		if p.Owner != "" || p.Group != "" {
			if err := a.chown(p.Object, p.Owner, p.Group); err != nil {
				return err
			}
		}
		if p.Mode != "" {
			mode, err := strconv.ParseUint(p.Mode, 8, 32)
			if err != nil {
				return fmt.Errorf("permissions of %s: mode %q is not octal", p.Object, p.Mode)
			}
			if err := os.Chmod(p.Object, fs.FileMode(mode)); err != nil {
				return err
			}
		}
	}
	return nil
}

// chown looks up owner and group in the instance's accounts, as the agent does, and fails as it
// does when one is missing. The namespace maps one user id, its root: a file given to another
// account keeps root's ownership (docs/runtime.md).
func (a *agent) chown(object, owner, group string) error {
	uid, gid := -1, -1
	if owner != "" {
		u, err := user.Lookup(owner)
		if err != nil {
			return fmt.Errorf("can't find user for %s", owner)
		}
		uid, _ = strconv.Atoi(u.Uid)
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return fmt.Errorf("can't find group for %s", group)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	if uid > 0 {
		uid = -1
	}
	if gid > 0 {
		gid = -1
	}
	return os.Chown(object, uid, gid)
}

func isEmpty(dir string) bool {
	entries, err := os.ReadDir(dir)
	return err == nil && len(entries) == 0
}

// mkdirs makes the missing folders above a copy, each recorded for the cleanup
// (installer.rb lines 136-148).
func mkdirs(dir string, made *[]string) error {
	var missing []string
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append([]string{d}, missing...)
	}
	for _, d := range missing {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
		*made = append(*made, d)
	}
	return nil
}

// runHooks runs event's scripts from the revision in dir, in order, as HookExecutor.execute
// does, and returns their log.
func (a *agent) runHooks(event, dir string, d deploymentJob) (string, error) {
	archive := filepath.Join(dir, "deployment-archive")
	spec, err := readAppSpec(archive)
	if err != nil {
		return "", err
	}
	log := &scriptLog{}
	env := append(slices.Clone(a.env),
		"LIFECYCLE_EVENT="+event, "DEPLOYMENT_ID="+d.ID, "APPLICATION_NAME=rehearsal",
		"DEPLOYMENT_GROUP_NAME=rehearsal", "DEPLOYMENT_GROUP_ID="+a.group)
	env = append(env, d.Env...)
	for _, h := range spec.Hooks[event] {
		s := hookScript{Location: h.Location, Runas: h.Runas, Timeout: time.Duration(h.Timeout) * time.Second}
		if h.Timeout == 0 {
			s.Timeout = time.Hour // script_info.rb line 17
		}
		log.add("Script - " + h.Location + "\n")
		pgid, err := executeScript(s, archive, env, log)
		if pgid > 0 {
			a.groups[pgid] = struct{}{}
		}
		if err != nil {
			return log.String(), err
		}
	}
	return log.String(), nil
}

// hookScript is one hooks entry of an appspec.
type hookScript struct {
	Location string
	Runas    string
	Timeout  time.Duration
}

// scriptLog is what the agent keeps of a hook's output: each line tagged with its stream.
type scriptLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *scriptLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line)
}

func (l *scriptLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// executeScript runs one hook script as HookExecutor#execute_script does (hook_executor.rb lines
// 124-204): made executable if it is not; run as `su <runas> -c <script>` when runas is set
// (linux_util.rb lines 11-30), in a process group of its own, with stdin closed and stdout and
// stderr read through pipes, line by line, into the log. One deadline, the hook's timeout from the
// start, covers three waits in turn (thread_joiner.rb): for the process to exit, or else its
// process group gets SIGTERM and the script fails as timed out; then for stdout to reach end of
// file, and then stderr, or else the script fails for leaving it open (error code 6), however
// it exited. A process the script left running that still holds an output thus fails the hook.
// It returns the script's process group.
func executeScript(s hookScript, archive string, env []string, log *scriptLog) (int, error) {
	path := filepath.Join(archive, s.Location)
	info, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("Script does not exist at specified location: %s", path)
	}
	if info.Mode().Perm()&0o111 == 0 {
		if err := os.Chmod(path, info.Mode().Perm()|0o111); err != nil {
			return 0, fmt.Errorf("Unable to set script at specified location: %s as executable", s.Location)
		}
	}
	argv := []string{path}
	prefix := "Script at specified location: " + s.Location
	if s.Runas != "" {
		argv = []string{"su", s.Runas, "-c", path}
		prefix += " run as user " + s.Runas
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinR, stdoutW, stderrW
	deadline := time.Now().Add(s.Timeout)
	err = cmd.Start()
	for _, f := range []*os.File{stdinR, stdinW, stdoutW, stderrW} {
		f.Close()
	}
	if err != nil {
		stdoutR.Close()
		stderrR.Close()
		return 0, fmt.Errorf("%s failed with error %v", prefix, err)
	}
	pgid := cmd.Process.Pid
	drain := func(r *os.File, tag string) <-chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer r.Close()
			lines := bufio.NewReader(r)
			for {
				line, err := lines.ReadString('\n')
				if line != "" {
					log.add(tag + line)
				}
				if err != nil {
					return
				}
			}
		}()
		return done
	}
	stdoutDone, stderrDone := drain(stdoutR, "[stdout]"), drain(stderrR, "[stderr]")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var waitErr error
	select {
	case waitErr = <-exited:
	case <-time.After(time.Until(deadline)):
		syscall.Kill(-pgid, syscall.SIGTERM)
		return pgid, fmt.Errorf("Script at specified location: %s failed to complete in %d seconds", s.Location, int(s.Timeout.Seconds()))
	}
	for _, o := range []struct {
		done <-chan struct{}
		name string
	}{{stdoutDone, "STDOUT"}, {stderrDone, "STDERR"}} {
		select {
		case <-o.done:
		case <-time.After(time.Until(deadline)):
			return pgid, fmt.Errorf("Script at specified location: %s failed to close %s", s.Location, o.name)
		}
	}
	if waitErr != nil {
		var exit *exec.ExitError
		if errors.As(waitErr, &exit) {
			return pgid, fmt.Errorf("%s failed with exit code %d", prefix, exit.ExitCode())
		}
		return pgid, fmt.Errorf("%s failed with error %v", prefix, waitErr)
	}
	return pgid, nil
}
