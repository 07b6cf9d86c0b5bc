package rehearsal_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// appspec is the part of the AppSpec reference (EC2/on-premises, version 0.0) the sample app uses.
type appspec struct {
	Version string `yaml:"version"`
	OS      string `yaml:"os"`
	Files   []struct {
		Source      string `yaml:"source"`
		Destination string `yaml:"destination"`
	} `yaml:"files"`
	FileExistsBehavior string `yaml:"file_exists_behavior"`
	Permissions        []struct {
		Object string   `yaml:"object"`
		Owner  string   `yaml:"owner"`
		Group  string   `yaml:"group"`
		Mode   int      `yaml:"mode"`
		Type   []string `yaml:"type"`
	} `yaml:"permissions"`
	Hooks map[string][]struct {
		Location string `yaml:"location"`
		Timeout  int    `yaml:"timeout"`
		Runas    string `yaml:"runas"`
	} `yaml:"hooks"`
}

// lifecycle is an in-place deployment's order of events, as the agent runs them; Install is the
// agent's own (copy the files, apply the permissions). The traffic hooks around it have no scripts
// here, and the load balancer's part is not rehearsed.
var lifecycle = []string{"ApplicationStop", "BeforeInstall", "Install", "AfterInstall", "ApplicationStart", "ValidateService"}

// unpack unzips a revision as the agent does (unzip -qo into deployment-archive) and reads its
// appspec.yml.
func unpack(t *testing.T, bundle, dir string) appspec {
	t.Helper()
	archive := filepath.Join(dir, "deployment-archive")
	if err := os.MkdirAll(archive, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("unzip", "-qo", bundle, "-d", archive).CombinedOutput(); err != nil {
		t.Fatalf("unzip: %v\n%s", err, out)
	}
	var spec appspec
	readYAML(t, filepath.Join(archive, "appspec.yml"), &spec)
	if spec.Version != "0.0" || spec.OS != "linux" {
		t.Fatalf("appspec version %q, os %q", spec.Version, spec.OS)
	}
	return spec
}

// deployment is one CodeDeploy deployment to the rehearsal's instance.
type deployment struct {
	id       string
	archive  string // this revision's deployment-archive
	previous string // the last successful revision's, for ApplicationStop; "" on the first
	spec     appspec
	env      []string // extra environment for the hooks
}

// script is the bash that plays d as the agent would, one function call per event. A hook that
// fails, or outlives its timeout, ends the deployment, as it does in CodeDeploy.
func (d deployment) script() string {
	var b strings.Builder
	fmt.Fprintf(&b, "deploy_start %s\n", d.id)
	for _, event := range lifecycle {
		if event == "Install" {
			for _, f := range d.spec.Files {
				fmt.Fprintf(&b, "install_file %q %q || { deploy_end %s Install; return; }\n", filepath.Join(d.archive, f.Source), f.Destination, d.id)
			}
			for _, p := range d.spec.Permissions {
				fmt.Fprintf(&b, "set_permissions %q %q %q %d || { deploy_end %s Install; return; }\n", p.Object, p.Owner, p.Group, p.Mode, d.id)
			}
			continue
		}
		archive := d.archive
		if event == "ApplicationStop" {
			archive = d.previous // the agent runs it from the last successful revision
		}
		if archive == "" {
			continue
		}
		var spec appspec
		if archive == d.archive {
			spec = d.spec
		} else {
			spec = d.previousSpec()
		}
		for _, h := range spec.Hooks[event] {
			fmt.Fprintf(&b, "hook %s %s %q %q %d %q || { deploy_end %s %s; return; }\n", d.id, event, archive, h.Location, h.Timeout, strings.Join(append([]string{pause}, d.env...), " "), d.id, event)
		}
	}
	fmt.Fprintf(&b, "deploy_end %s Succeeded\n", d.id)
	return b.String()
}

func (d deployment) previousSpec() appspec {
	var spec appspec
	b, err := os.ReadFile(filepath.Join(d.previous, "appspec.yml"))
	if err == nil {
		err = yamlUnmarshal(b, &spec)
	}
	if err != nil {
		panic(err)
	}
	return spec
}

// pause shortens validate_service.sh's pause between tries from 2 s: the checks are the same, the
// rehearsal only waits less for the service to answer.
const pause = "VALIDATE_PAUSE_SECONDS=0.2"

// driver is the bash that holds the instance: private /opt and /etc/systemd/system, a private
// loopback network, the stand-ins on PATH, and the agent's steps as functions. Results go to
// results/<deployment>/: the last event reached, and each hook's output.
const driver = `set -uo pipefail
ip link set lo up
mount --bind "$INSTANCE/opt" /opt
mount --bind "$INSTANCE/systemd" /etc/systemd/system
export PATH="$SHIMS:$PATH" SHIM_STATE="$INSTANCE/state"
trap 'systemctl stop sample-app.service >/dev/null 2>&1' EXIT

deploy_start() { mkdir -p "$RESULTS/$1"; }
deploy_end() { echo "$2" >"$RESULTS/$1/result"; }

# hook DEPLOYMENT EVENT ARCHIVE LOCATION TIMEOUT ENV: as the agent runs a hook script. It makes
# the script executable when it is not (hook_executor.rb), passes the agent's variables, and
# stops the script's process group when it outlives its timeout.
hook() {
  local script="$3/$4"
  [ -f "$script" ] || { echo "Script does not exist at specified location: $script" >"$RESULTS/$1/$2.out"; return 1; }
  [ -x "$script" ] || chmod +x "$script"
  # shellcheck disable=SC2086 # ENV is a list of NAME=value words
  env LIFECYCLE_EVENT="$2" DEPLOYMENT_ID="$1" APPLICATION_NAME=rehearsal DEPLOYMENT_GROUP_NAME=rehearsal \
    DEPLOYMENT_GROUP_ID=rehearsal $6 timeout -s TERM "$5" setsid "$script" </dev/null >"$RESULTS/$1/$2.out" 2>&1
  local rc=$?
  echo "$rc" >"$RESULTS/$1/$2.rc"
  return "$rc"
}

# install_file SOURCE DESTINATION_FOLDER: the agent copies with the archive's mode (cp -p), making
# the folder when it is missing.
install_file() { mkdir -p "$2" && cp -p "$1" "$2/"; }

# set_permissions OBJECT OWNER GROUP MODE: appspec.yml's permissions for a file.
set_permissions() { chown "$2:$3" "$1" && chmod "$4" "$1"; }
`

// run plays deployments in order, in private mount and network namespaces, and returns the
// results folder.
func run(t *testing.T, instance string, deployments ...deployment) string {
	t.Helper()
	results := filepath.Join(instance, "results")
	for _, dir := range []string{"opt", "systemd", "state", "results"} {
		if err := os.MkdirAll(filepath.Join(instance, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	shims, err := filepath.Abs("testdata/shims")
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	script.WriteString(driver)
	for _, d := range deployments {
		fmt.Fprintf(&script, "deploy_%s() {\n%s}\ndeploy_%s\n", d.id, d.script(), d.id)
	}
	cmd := exec.Command("unshare", "--mount", "--net", "--propagation", "private", "bash", "-c", script.String())
	cmd.Env = append(os.Environ(), "INSTANCE="+instance, "SHIMS="+shims, "RESULTS="+results)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the instance could not run the deployments: %v\n%s", err, out)
	}
	return results
}

// result reads what a deployment reached, and the output of one of its hooks.
func result(t *testing.T, results, id, event string) (reached, output string) {
	t.Helper()
	r, _ := os.ReadFile(filepath.Join(results, id, "result"))
	o, _ := os.ReadFile(filepath.Join(results, id, event+".out"))
	return strings.TrimSpace(string(r)), string(o)
}
