package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The fake pipeline plays what the synthesized template sets up: a push event that a rule routes to
// the pipeline starts an execution; a self-updating pipeline's update stage runs its buildspec's
// commands, as CodeBuild would, on a checkout of the commit without file modes (aws, npm and npx
// fail at once: a deploy is not emulated); the build needs the buildspec; the deploy installs what
// the appspec says, and a release whose systemd unit cannot start fails; CodeDeploy rolls back as the
// deployment group's AutoRollbackConfiguration says, the Deploy stage as its OnFailure says; every
// state change is an EventBridge event that the template's rules route to SNS topics, whose
// subscriptions deliver to SQS. It moves one step each time the flow lists the executions.

func init() {
	operations["codepipeline list-pipeline-executions"] = operation{api: "ListPipelineExecutions",
		options: map[string]option{"--pipeline-name": {required: true}, "--max-items": {}}, do: (*cloud).listPipelineExecutions}
	operations["deploy list-deployments"] = operation{api: "ListDeployments",
		options: map[string]option{"--application-name": {}, "--deployment-group-name": {}, "--include-only-statuses": {list: true}},
		do:      (*cloud).listDeployments}
	operations["deploy batch-get-deployments"] = operation{api: "BatchGetDeployments",
		options: map[string]option{"--deployment-ids": {required: true, list: true}}, do: (*cloud).batchGetDeployments}
}

type pipeline struct {
	name, arn     string
	repository    string // the source action's repository
	approval      bool   // a manual approval waits for a person the dry run does not have
	stageRollback bool   // the deploy stage's OnFailure result is ROLLBACK
	application   string
	group         string
	autoRollback  bool // the group rolls back a failed deployment
	executions    []*execution
	deployments   []*deployment
	served        string // the commit the fleet serves
	deploying     string // the commit being deployed, while a deployment runs
	requests      int
	artifacts     string            // the artifact store's bucket
	buildspec     string            // the build project's own buildspec, if it has one
	variables     map[string]string // the build project's variables
	update        *project          // the update stage's project, in a self-updating pipeline
}

// project is a CodeBuild project of the deployed stack, as an action runs it.
type project struct {
	buildspec string            // its Source.BuildSpec
	variables map[string]string // its environment variables
}

type execution struct {
	id, status, commit, typ, target, trigger string
	step                                     int
	deployment                               *deployment
	start                                    time.Time
}

type deployment struct {
	id, status, creator, commit, rollbackOf string
	create                                  time.Time
}

// startPipeline reads the pipeline's definition from the deployed template, and starts the
// execution CodePipeline starts when it creates a pipeline.
func (c *cloud) startPipeline() error {
	d := c.stack
	var logical string
	for id, r := range d.app.resources {
		if r["Type"] == "AWS::CodePipeline::Pipeline" {
			if logical != "" {
				return fmt.Errorf("fake CodePipeline: more than one pipeline")
			}
			logical = id
		}
	}
	if logical == "" {
		return nil
	}
	props, err := c.resolve(d.app.resources[logical]["Properties"])
	if err != nil {
		return err
	}
	var def struct {
		ArtifactStore struct{ Location string }
		Stages        []struct {
			Name    string
			Actions []struct {
				Name          string
				ActionTypeId  struct{ Category, Provider string }
				Configuration map[string]any
			}
			OnFailure *struct{ Result string }
		}
	}
	b, _ := json.Marshal(props)
	if err := json.Unmarshal(b, &def); err != nil {
		return err
	}
	p := &pipeline{name: d.physical[logical], arn: "arn:aws:codepipeline:" + c.region + ":" + c.account + ":" + d.physical[logical],
		artifacts: def.ArtifactStore.Location}
	for _, s := range def.Stages {
		for _, a := range s.Actions {
			switch a.ActionTypeId.Category + "/" + a.ActionTypeId.Provider {
			case "Source/CodeCommit":
				p.repository = fmt.Sprint(a.Configuration["RepositoryName"])
			case "Build/CodeBuild":
				project, err := c.project(fmt.Sprint(a.Configuration["ProjectName"]))
				if err != nil {
					return err
				}
				if s.Name == "SelfUpdate" {
					p.update = project
				} else {
					p.buildspec, p.variables = project.buildspec, project.variables
				}
			case "Approval/Manual":
				p.approval = true
			case "Deploy/CodeDeploy":
				p.stageRollback = s.OnFailure != nil && s.OnFailure.Result == "ROLLBACK"
				p.application, p.group = fmt.Sprint(a.Configuration["ApplicationName"]), fmt.Sprint(a.Configuration["DeploymentGroupName"])
			}
		}
	}
	for id, r := range d.app.resources {
		if r["Type"] == "AWS::CodeDeploy::DeploymentGroup" && d.physical[id] == p.group {
			props, _ := r["Properties"].(map[string]any)
			auto, _ := props["AutoRollbackConfiguration"].(map[string]any)
			events, _ := auto["Events"].([]any)
			for _, e := range events {
				p.autoRollback = p.autoRollback || auto["Enabled"] == true && e == "DEPLOYMENT_FAILURE"
			}
		}
	}
	c.pipe = p
	r, err := c.repo(p.repository)
	if err != nil {
		return fmt.Errorf("fake CodePipeline: the source action's repository: %v", err)
	}
	r.pushed = func(branch, old, commit string) {
		c.emit("aws.codecommit", "CodeCommit Repository State Change", []string{"arn:aws:codecommit:" + c.region + ":" + c.account + ":" + r.name},
			map[string]any{"event": "referenceUpdated", "repositoryName": r.name, "repositoryId": r.id, "referenceType": "branch",
				"referenceName": branch, "referenceFullName": "refs/heads/" + branch, "commitId": commit, "oldCommitId": old})
	}
	for id, r := range d.app.resources {
		if r["Type"] == "AWS::CodeCommit::Repository" && d.names[id] == p.repository {
			code, _ := r["Properties"].(map[string]any)["Code"].(map[string]any)
			branch, _ := code["BranchName"].(string)
			c.startExecution(c.repos[p.repository].tip(branch), "CreatePipeline", "")
		}
	}
	return nil
}

// project reads the deployed CodeBuild project named name.
func (c *cloud) project(name string) (*project, error) {
	d := c.stack
	for id, r := range d.app.resources {
		if d.physical[id] != name || r["Type"] != "AWS::CodeBuild::Project" {
			continue
		}
		props, err := c.resolve(r["Properties"])
		if err != nil {
			return nil, err
		}
		p := &project{variables: map[string]string{}}
		source, _ := props.(map[string]any)["Source"].(map[string]any)
		p.buildspec, _ = source["BuildSpec"].(string)
		env, _ := props.(map[string]any)["Environment"].(map[string]any)
		vars, _ := env["EnvironmentVariables"].([]any)
		for _, v := range vars {
			variable := v.(map[string]any)
			p.variables[fmt.Sprint(variable["Name"])] = fmt.Sprint(variable["Value"])
		}
		return p, nil
	}
	return nil, fmt.Errorf("fake CodePipeline: no CodeBuild project %s in the stack", name)
}

func (c *cloud) startExecution(commit, trigger, detail string) {
	p := c.pipe
	// SUPERSEDED mode: a newer execution takes over from one still running.
	for _, e := range p.executions {
		if e.status == "InProgress" && e.typ == "STANDARD" {
			e.status = "Superseded"
			c.pipelineEvent(e, "SUPERSEDED")
		}
	}
	e := &execution{id: c.uuid(), status: "InProgress", commit: commit, typ: "STANDARD", trigger: trigger, start: time.Now()}
	p.executions = append(p.executions, e)
	// The source and build artifacts of the execution, in the versioned artifact bucket.
	if b := c.buckets[p.artifacts]; b != nil {
		for _, key := range []string{"Source/" + commit[:min(8, len(commit))] + ".zip", "Build/" + e.id[:8] + ".zip"} {
			b.versions = append(b.versions, objectVersion{Key: key, VersionId: c.id()})
		}
	}
	c.pipelineEvent(e, "STARTED")
}

// tick moves every running execution one step: build, deploy, finish.
func (c *cloud) tick() {
	p := c.pipe
	if c.script.neverFinishes {
		return
	}
	for _, e := range append([]*execution(nil), p.executions...) {
		if e.status != "InProgress" {
			continue
		}
		switch e.step {
		case 0: // Source, the update of a self-updating pipeline, and Build
			if p.update != nil {
				out, err := c.runUpdate(e.commit)
				c.updateLogs = append(c.updateLogs, out)
				if err != nil {
					c.finish(e, "Failed")
					continue
				}
			}
			if !c.builds(e.commit) {
				c.finish(e, "Failed")
				continue
			}
			e.step++
		case 1: // approval, then the deploy action starts a deployment
			if p.approval {
				continue
			}
			creator := "user"
			e.deployment = c.deploymentStart(e.commit, creator, "")
			p.deploying = e.commit
			e.step++
		case 2: // the deployment ends
			p.deploying = ""
			if err := c.releaseFails(e.commit); err != "" {
				c.deploymentEnd(e.deployment, "Failed")
				if p.autoRollback && p.served != "" && !c.script.noCodeDeployRoll {
					r := c.deploymentStart(p.served, "codeDeployRollback", e.deployment.id)
					c.deploymentEnd(r, "Succeeded")
				}
				c.finish(e, "Failed")
				continue
			}
			c.deploymentEnd(e.deployment, "Succeeded")
			p.served = e.commit
			e.step++
		case 3: // the bake ends
			c.finish(e, "Succeeded")
		}
	}
}

func (c *cloud) finish(e *execution, status string) {
	p := c.pipe
	e.status = status
	c.pipelineEvent(e, strings.ToUpper(status))
	if status != "Failed" || !p.stageRollback || e.step < 1 {
		return
	}
	// The deploy stage failed: CodePipeline rolls it back to the last execution that succeeded
	// in it, if there is one.
	for i := len(p.executions) - 1; i >= 0; i-- {
		t := p.executions[i]
		if t.status == "Succeeded" && t.step >= 3 {
			r := &execution{id: c.uuid(), status: "InProgress", commit: t.commit, typ: "ROLLBACK", target: t.id,
				trigger: "AutomatedRollback", step: 1, start: time.Now()}
			p.executions = append(p.executions, r)
			c.pipelineEvent(r, "STARTED")
			return
		}
	}
}

// runUpdate runs the update stage's buildspec commands as CodeBuild runs them: one bash session,
// in a checkout of commit whose files have no modes (CodePipeline's source zip), with the
// project's variables. Its output is the build's log.
func (c *cloud) runUpdate(commit string) (string, error) {
	var spec struct {
		Env struct {
			Variables map[string]string
		}
		Phases map[string]struct{ Commands []string }
	}
	if err := yaml.Unmarshal([]byte(c.pipe.update.buildspec), &spec); err != nil {
		return "", fmt.Errorf("the update's buildspec: %v", err)
	}
	dir, err := os.MkdirTemp(synths.dir, "checkout-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	r := c.repos[c.pipe.repository]
	archive, err := gitBytes(r.dir, nil, nil, "archive", "--format=tar", commit)
	if err != nil {
		return "", err
	}
	untar := exec.Command("tar", "-x", "--no-same-permissions", "-C", dir)
	untar.Stdin = bytes.NewReader(archive)
	if out, err := untar.CombinedOutput(); err != nil {
		return string(out), err
	}
	if out, err := exec.Command("chmod", "-R", "a-x+X", dir).CombinedOutput(); err != nil {
		return string(out), err
	}
	var script []string
	for _, phase := range []string{"install", "pre_build", "build", "post_build"} {
		script = append(script, spec.Phases[phase].Commands...)
	}
	// The deploy is not emulated: past the digest's decision, the script's first aws, npm or npx
	// fails at once. (The fake aws would deadlock here: the fake cloud is busy with this tick.)
	stubs, err := os.MkdirTemp(synths.dir, "update-bin-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stubs)
	for _, name := range []string{"aws", "npm", "npx"} {
		stub := "#!/bin/sh\necho \"fake CodeBuild: $0 $*: the dry run emulates no deploy\" >&2\nexit 1\n"
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(stub), 0o755); err != nil {
			return "", err
		}
	}
	cmd := exec.Command("bash", "-c", "set -e\n"+strings.Join(script, "\n"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+stubs+string(os.PathListSeparator)+os.Getenv("PATH"))
	for k, v := range spec.Env.Variables {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range c.pipe.update.variables {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// buildspec is the build action's buildspec for a commit: the project's own (inline, or a path in
// the source), else buildspec.yml at the source's root, as CodeBuild reads it.
func (c *cloud) buildspec(commit string) ([]byte, bool) {
	file := "buildspec.yml"
	if spec := c.pipe.buildspec; spec != "" {
		if strings.Contains(spec, "\n") {
			return []byte(spec), true
		}
		file = spec
	}
	return c.repos[c.pipe.repository].readFile(commit, file)
}

// builds reports whether CodeBuild would build the commit: it needs a buildspec it can read.
func (c *cloud) builds(commit string) bool {
	if c.script.buildFails {
		return false
	}
	b, ok := c.buildspec(commit)
	if !ok {
		return false
	}
	var spec struct {
		Version   any
		Artifacts struct{ Files []string }
	}
	return yaml.Unmarshal(b, &spec) == nil && fmt.Sprint(spec.Version) == "0.2" && len(spec.Artifacts.Files) > 0
}

// releaseFails says why the commit's release fails ValidateService, or "": CodeDeploy installs the
// files appspec.yml lists from the build's artifact, and a systemd unit whose ExecStart is
// /bin/false never starts. A buildspec whose artifact is the bundle/ folder its build copies
// BUNDLE's paths into, from the app's folder APP_DIR (the sample app's), has those files there.
func (c *cloud) releaseFails(commit string) string {
	r := c.repos[c.pipe.repository]
	b, _ := c.buildspec(commit)
	var spec struct {
		Env struct {
			Variables map[string]string
		}
		Artifacts struct {
			Files         []string
			BaseDirectory string `yaml:"base-directory"`
		}
	}
	if err := yaml.Unmarshal(b, &spec); err != nil {
		return err.Error()
	}
	base := spec.Artifacts.BaseDirectory
	copied := func(string) bool { return true }
	if base == "bundle" {
		base = spec.Env.Variables["APP_DIR"]
		if dir, ok := c.pipe.variables["APP_DIR"]; ok {
			base = dir
		}
		bundle := strings.Fields(spec.Env.Variables["BUNDLE"])
		copied = func(file string) bool {
			for _, p := range bundle {
				if file == p || strings.HasPrefix(file, p+"/") {
					return true
				}
			}
			return false
		}
	}
	inArtifact := func(file string) bool {
		for _, pattern := range spec.Artifacts.Files {
			if globMatch(pattern, file) && copied(file) {
				return true
			}
		}
		return false
	}
	b, ok := r.readFile(commit, path.Join(base, "appspec.yml"))
	if !ok || !inArtifact("appspec.yml") {
		return "the bundle has no appspec.yml"
	}
	var appspec struct {
		Files []struct{ Source, Destination string }
	}
	if err := yaml.Unmarshal(b, &appspec); err != nil {
		return err.Error()
	}
	for _, f := range appspec.Files {
		if f.Destination != "/etc/systemd/system" {
			continue
		}
		unit, ok := r.readFile(commit, path.Join(base, f.Source))
		if !ok || !inArtifact(f.Source) {
			return "the bundle has no " + f.Source
		}
		for _, line := range strings.Split(string(unit), "\n") {
			if strings.TrimSpace(line) == "ExecStart=/bin/false" {
				return f.Source + " never starts"
			}
		}
	}
	return ""
}

// globMatch matches a buildspec artifacts pattern: path.Match per segment, ** for any depth.
func globMatch(pattern, file string) bool {
	ps, fs := strings.Split(pattern, "/"), strings.Split(file, "/")
	var match func(i, j int) bool
	match = func(i, j int) bool {
		if i == len(ps) {
			return j == len(fs)
		}
		if ps[i] == "**" {
			for k := j; k <= len(fs); k++ {
				if match(i+1, k) {
					return true
				}
			}
			return false
		}
		if j == len(fs) {
			return false
		}
		ok, _ := path.Match(ps[i], fs[j])
		return ok && match(i+1, j+1)
	}
	return match(0, 0)
}

func (c *cloud) deploymentStart(commit, creator, rollbackOf string) *deployment {
	d := &deployment{id: "d-" + c.id()[3:], status: "InProgress", creator: creator, commit: commit, rollbackOf: rollbackOf, create: time.Now()}
	c.pipe.deployments = append(c.pipe.deployments, d)
	c.deploymentEvent(d, "START")
	return d
}

func (c *cloud) deploymentEnd(d *deployment, status string) {
	d.status = status
	c.deploymentEvent(d, map[string]string{"Succeeded": "SUCCESS", "Failed": "FAILURE"}[status])
}

func (c *cloud) listPipelineExecutions(p params, _ string) (any, error) {
	if c.pipe == nil || p.get("--pipeline-name") != c.pipe.name {
		return nil, errorf("PipelineNotFoundException", "The account with id '%s' does not include a pipeline with the name '%s'", c.account, p.get("--pipeline-name"))
	}
	c.tick()
	max := 100
	if v := p.get("--max-items"); v != "" {
		fmt.Sscan(v, &max)
	}
	var out []map[string]any
	for i := len(c.pipe.executions) - 1; i >= 0; i-- {
		e := c.pipe.executions[i]
		if len(out) == max {
			break
		}
		summary := map[string]any{
			"pipelineExecutionId": e.id, "status": e.status,
			"startTime": e.start.UTC().Format("2006-01-02T15:04:05.000000-07:00"), "lastUpdateTime": time.Now().UTC().Format("2006-01-02T15:04:05.000000-07:00"),
			"sourceRevisions": []map[string]string{{"actionName": "Source", "revisionId": e.commit, "revisionSummary": "a commit"}},
			"trigger":         map[string]string{"triggerType": e.trigger, "triggerDetail": "arn:aws:events:" + c.region + ":" + c.account + ":rule/fake"},
			"executionMode":   "SUPERSEDED", "executionType": e.typ,
		}
		if e.typ == "ROLLBACK" {
			summary["rollbackMetadata"] = map[string]string{"rollbackTargetPipelineExecutionId": e.target}
		}
		out = append(out, summary)
	}
	answer := map[string]any{"pipelineExecutionSummaries": out}
	if len(c.pipe.executions) > max {
		answer["NextToken"] = "token" + c.id()
	}
	return answer, nil
}

func (c *cloud) listDeployments(p params, _ string) (any, error) {
	if c.pipe == nil || p.get("--application-name") != c.pipe.application {
		return nil, errorf("ApplicationDoesNotExistException", "No application found for name: %s", p.get("--application-name"))
	}
	if p.get("--deployment-group-name") != c.pipe.group {
		return nil, errorf("DeploymentGroupDoesNotExistException", "No Deployment Group found for name: %s", p.get("--deployment-group-name"))
	}
	statuses := map[string]bool{}
	for _, s := range p["--include-only-statuses"] {
		switch s {
		case "Created", "Queued", "InProgress", "Baking", "Succeeded", "Failed", "Stopped", "Ready":
			statuses[s] = true
		default:
			return nil, errorf("InvalidDeploymentStatusException", "Invalid deployment status: %s", s)
		}
	}
	ids := []string{}
	for i := len(c.pipe.deployments) - 1; i >= 0; i-- {
		if d := c.pipe.deployments[i]; len(statuses) == 0 || statuses[d.status] {
			ids = append(ids, d.id)
		}
	}
	return map[string]any{"deployments": ids}, nil
}

func (c *cloud) batchGetDeployments(p params, _ string) (any, error) {
	ids := p["--deployment-ids"]
	if len(ids) > 25 {
		return nil, errorf("BatchLimitExceededException", "The maximum number of deployment IDs is 25.")
	}
	infos := []map[string]any{}
	for _, id := range ids {
		if !strings.HasPrefix(id, "d-") {
			return nil, errorf("InvalidDeploymentIdException", "Specified DeploymentId is not in the valid format: %s", id)
		}
		if c.pipe == nil {
			continue
		}
		for _, d := range c.pipe.deployments {
			if d.id != id {
				continue
			}
			info := map[string]any{"applicationName": c.pipe.application, "deploymentGroupName": c.pipe.group,
				"deploymentConfigName": "CodeDeployDefault.OneAtATime", "deploymentId": d.id, "status": d.status, "creator": d.creator,
				"createTime": d.create.UTC().Format(time.RFC3339),
				"revision":   map[string]any{"revisionType": "S3", "s3Location": map[string]string{"bucket": "artifacts", "key": d.commit, "bundleType": "zip"}}}
			if d.rollbackOf != "" {
				info["rollbackInfo"] = map[string]string{"rollbackTriggeringDeploymentId": d.rollbackOf,
					"rollbackMessage": "Deployment " + d.rollbackOf + " failed, so this deployment rolls it back."}
			}
			infos = append(infos, info)
		}
	}
	return map[string]any{"deploymentsInfo": infos}, nil
}

// --- events

func (c *cloud) pipelineEvent(e *execution, state string) {
	p := c.pipe
	c.emit("aws.codepipeline", "CodePipeline Pipeline Execution State Change", []string{p.arn}, map[string]any{
		"pipeline": p.name, "execution-id": e.id, "state": state, "version": 1, "pipeline-execution-attempt": 1,
		"execution-trigger": map[string]string{"trigger-type": e.trigger, "trigger-detail": "fake"},
	})
}

func (c *cloud) deploymentEvent(d *deployment, state string) {
	p := c.pipe
	c.emit("aws.codedeploy", "CodeDeploy Deployment State-change Notification", []string{
		"arn:aws:codedeploy:" + c.region + ":" + c.account + ":application:" + p.application,
		"arn:aws:codedeploy:" + c.region + ":" + c.account + ":deploymentgroup:" + p.application + "/" + p.group,
	}, map[string]any{"instanceGroupId": "9fd2fbef-2157-40d8-91e7-6845af69e2d2", "region": c.region, "application": p.application,
		"deploymentId": d.id, "state": state, "deploymentGroup": p.group})
}

// emit sends an event to the default event bus: each enabled rule of the stack whose pattern
// matches sends it to its targets, of which the fake plays the pipeline and SNS topics.
func (c *cloud) emit(source, detailType string, resources []string, detail map[string]any) {
	event := map[string]any{"version": "0", "id": c.uuid(), "detail-type": detailType, "source": source, "account": c.account,
		"time": time.Now().UTC().Format(time.RFC3339), "region": c.region, "resources": resources, "detail": detail}
	raw, _ := json.Marshal(event)
	var generic map[string]any
	_ = json.Unmarshal(raw, &generic)
	for _, id := range sortedKeys(c.stack.app.resources) {
		r := c.stack.app.resources[id]
		if r["Type"] != "AWS::Events::Rule" {
			continue
		}
		props, err := c.resolve(r["Properties"])
		if err != nil {
			panic(fmt.Sprintf("fake EventBridge: rule %s: %v", id, err))
		}
		rule := props.(map[string]any)
		if rule["State"] != "ENABLED" {
			continue
		}
		ok, err := matches(rule["EventPattern"], generic)
		if err != nil {
			panic(fmt.Sprintf("fake EventBridge: rule %s: %v", id, err))
		}
		if !ok {
			continue
		}
		targets, _ := rule["Targets"].([]any)
		for _, t := range targets {
			target := t.(map[string]any)
			if target["Input"] != nil || target["InputPath"] != nil || target["InputTransformer"] != nil {
				continue
			}
			arn := fmt.Sprint(target["Arn"])
			switch {
			case c.pipe != nil && arn == c.pipe.arn && source == "aws.codecommit":
				c.startExecution(fmt.Sprint(detail["commitId"]), "CloudWatchEvent", "arn:aws:events:"+c.region+":"+c.account+":rule/"+id)
			case strings.HasPrefix(arn, "arn:aws:sns:"):
				c.publish(arn, string(raw))
			}
		}
	}
}

// matches reports whether an event matches an EventBridge pattern: every field of the pattern is
// in the event, with one of the pattern's values. The content filters (prefix, anything-but, ...)
// are not emulated: a pattern with one fails.
func matches(pattern, event any) (bool, error) {
	switch p := pattern.(type) {
	case map[string]any:
		e, ok := event.(map[string]any)
		if !ok {
			return false, nil
		}
		for k, v := range p {
			ok, err := matches(v, e[k])
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case []any:
		values := []any{event}
		if list, ok := event.([]any); ok {
			values = list
		}
		for _, want := range p {
			if _, filter := want.(map[string]any); filter {
				return false, fmt.Errorf("content filter %v is not emulated", want)
			}
			for _, v := range values {
				if fmt.Sprint(v) == fmt.Sprint(want) && v != nil {
					return true, nil
				}
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("pattern %v is not an object or a list", pattern)
}

// publish delivers a message to the topic's SQS subscriptions of the stack: the message itself with
// raw message delivery, else the SNS envelope around it
// (https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html). SNS delivers
// only when the queue's policy lets it.
func (c *cloud) publish(topicARN, msg string) {
	for _, id := range sortedKeys(c.stack.app.resources) {
		r := c.stack.app.resources[id]
		if r["Type"] != "AWS::SNS::Subscription" {
			continue
		}
		props, err := c.resolve(r["Properties"])
		if err != nil {
			panic(fmt.Sprintf("fake SNS: subscription %s: %v", id, err))
		}
		s := props.(map[string]any)
		if s["TopicArn"] != topicARN || s["Protocol"] != "sqs" || c.script.dropDeliveries {
			continue
		}
		var q *queue
		for _, candidate := range c.queues {
			if c.queueARN(candidate.name) == s["Endpoint"] {
				q = candidate
			}
		}
		if q == nil || !c.allowsSNS(q, topicARN) {
			continue // to the subscription's dead-letter queue
		}
		body := msg
		if fmt.Sprint(s["RawMessageDelivery"]) != "true" {
			envelope, _ := json.Marshal(map[string]string{
				"Type": "Notification", "MessageId": c.uuid(), "TopicArn": topicARN, "Message": msg,
				"Timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "SignatureVersion": "1", "Signature": "EXAMPLE",
				"SigningCertURL": "https://sns." + c.region + ".amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
				"UnsubscribeURL": "https://sns." + c.region + ".amazonaws.com/?Action=Unsubscribe&SubscriptionArn=" + topicARN + ":" + c.uuid(),
			})
			body = string(envelope)
		}
		q.messages = append(q.messages, &message{id: c.uuid(), body: body})
		if len(q.messages)%5 == 0 {
			// SNS and SQS deliver at least once: now and then twice.
			q.messages = append(q.messages, &message{id: c.uuid(), body: body})
		}
	}
}
