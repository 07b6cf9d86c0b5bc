package rehearsal_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stackFacts is what the rehearsal takes from the pipeline stack that `cdk deploy` would create
// with the default settings, synthesized once.
type stackFacts struct {
	// BuildSpec is the build project's Source.BuildSpec: "" when CodeBuild reads buildspec.yml at
	// the root of the source, the repository's.
	BuildSpec string
	// Image is the build project's image.
	Image string
	// CheckSpecs are the inline buildspecs of the other projects that build the repository (the
	// pull-request checks).
	CheckSpecs []string
	// TargetGroup is the deployment group's load balancer health check.
	TargetGroup targetGroup
	// AutoRollback lists the events on which CodeDeploy rolls a deployment back.
	AutoRollback []string
	// DeploymentOption is the deployment group's traffic control.
	DeploymentOption string
	// Seed is the folder of the repository's seed asset in the cloud assembly, with the files
	// CloudFormation commits: the sample app, less what the asset excludes.
	Seed string
}

type object = map[string]any

// synthFacts runs the app (main.go, built from this checkout) as `cdk synth` runs it with the
// default settings: cdk.json's context, the sample app as its seed, no function bundled, which the
// rehearsal does not deploy. It follows the pipeline's actions to the resources the rehearsal
// plays: the Source action's repository, the Build action's project, the Deploy action's
// deployment group and its target group. The app runs in its own process, so that this package's
// tests link no CDK.
func synthFacts(t *testing.T) stackFacts {
	t.Helper()
	assembly := synthDefault(t)
	template := templates(t, assembly)["CicdPipeline"].(map[string]any)
	resources := template["Resources"].(object)
	props := func(ref any, want string) object {
		t.Helper()
		var id string
		switch r := ref.(type) {
		case object:
			if v, ok := r["Ref"].(string); ok {
				id = v
			} else if v, ok := r["Fn::GetAtt"].([]any); ok {
				id, _ = v[0].(string)
			}
		}
		res, ok := resources[id].(object)
		if !ok || res["Type"] != want {
			t.Fatalf("%v does not name a %s", ref, want)
		}
		p, _ := res["Properties"].(object)
		return p
	}
	f := stackFacts{Seed: seedAsset(t, assembly)}
	var pipeline object
	for _, r := range resources {
		res := r.(object)
		switch res["Type"] {
		case "AWS::CodePipeline::Pipeline":
			pipeline = res["Properties"].(object)
		case "AWS::CodeBuild::Project":
			if spec, ok := res["Properties"].(object)["Source"].(object)["BuildSpec"].(string); ok {
				f.CheckSpecs = append(f.CheckSpecs, spec)
			}
		}
	}
	if pipeline == nil {
		t.Fatal("the stack has no pipeline")
	}
	var source, built string
	found := map[string]bool{}
	for _, stage := range pipeline["Stages"].([]any) {
		for _, a := range stage.(object)["Actions"].([]any) {
			action := a.(object)
			kind := action["ActionTypeId"].(object)
			config, _ := action["Configuration"].(object)
			switch kind["Provider"] {
			case "CodeCommit":
				repo := props(config["RepositoryName"], "AWS::CodeCommit::Repository")
				if _, seeded := repo["Code"].(object)["S3"]; !seeded {
					t.Fatal("the Source action's repository is not seeded")
				}
				source = artifactName(action["OutputArtifacts"])
			case "CodeBuild":
				if artifactName(action["InputArtifacts"]) != source {
					t.Fatal("the Build action does not build the Source action's output")
				}
				project := props(config["ProjectName"], "AWS::CodeBuild::Project")
				src := project["Source"].(object)
				if src["Type"] != "CODEPIPELINE" {
					t.Fatalf("the build project's source is %v, not the pipeline's artifact", src["Type"])
				}
				f.BuildSpec, _ = src["BuildSpec"].(string)
				f.Image, _ = project["Environment"].(object)["Image"].(string)
				built = artifactName(action["OutputArtifacts"])
			case "CodeDeploy":
				if artifactName(action["InputArtifacts"]) != built {
					t.Fatal("the Deploy action does not deploy the Build action's output")
				}
				group := props(config["DeploymentGroupName"], "AWS::CodeDeploy::DeploymentGroup")
				f.DeploymentOption, _ = group["DeploymentStyle"].(object)["DeploymentOption"].(string)
				if rollback, ok := group["AutoRollbackConfiguration"].(object); ok && rollback["Enabled"] == true {
					for _, e := range rollback["Events"].([]any) {
						f.AutoRollback = append(f.AutoRollback, e.(string))
					}
				}
				list := group["LoadBalancerInfo"].(object)["TargetGroupInfoList"].([]any)
				if len(list) != 1 {
					t.Fatalf("the deployment group has %d target groups; the rehearsal plays one", len(list))
				}
				f.TargetGroup = readTargetGroup(t, props(list[0].(object)["Name"], "AWS::ElasticLoadBalancingV2::TargetGroup"))
			default:
				continue
			}
			found[kind["Provider"].(string)] = true
		}
	}
	for _, provider := range []string{"CodeCommit", "CodeBuild", "CodeDeploy"} {
		if !found[provider] {
			t.Fatalf("the pipeline has no %s action", provider)
		}
	}
	return f
}

func artifactName(v any) string {
	list, _ := v.([]any)
	if len(list) != 1 {
		return ""
	}
	name, _ := list[0].(object)["Name"].(string)
	return name
}

// readTargetGroup reads a target group's health check; an absent property takes its default
// (AWS::ElasticLoadBalancingV2::TargetGroup reference: path /, the traffic port, 200 for HTTP,
// 5 healthy and 2 unhealthy checks, a 5 s timeout for HTTP targets).
func readTargetGroup(t *testing.T, p object) targetGroup {
	t.Helper()
	number := func(key string, fallback int) int {
		switch v := p[key].(type) {
		case float64:
			return int(v)
		case string:
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("target group %s = %q", key, v)
			}
			return n
		case nil:
			return fallback
		}
		t.Fatalf("target group %s = %v, not a number the rehearsal can read", key, p[key])
		return 0
	}
	text := func(key, fallback string) string {
		if v, ok := p[key].(string); ok {
			return v
		}
		if p[key] != nil {
			b, _ := json.Marshal(p[key])
			t.Fatalf("target group %s = %s, not a string the rehearsal can read", key, b)
		}
		return fallback
	}
	tg := targetGroup{
		Port: number("Port", 0), CheckPort: text("HealthCheckPort", "traffic-port"), Path: text("HealthCheckPath", "/"),
		Protocol: text("HealthCheckProtocol", text("Protocol", "HTTP")), Timeout: time.Duration(number("HealthCheckTimeoutSeconds", 5)) * time.Second,
		Healthy: number("HealthyThresholdCount", 5), Unhealthy: number("UnhealthyThresholdCount", 2), Codes: "200",
	}
	if m, ok := p["Matcher"].(object); ok {
		tg.Codes = fmt.Sprint(m["HttpCode"])
	}
	if tg.Port == 0 {
		t.Fatal("the target group has no port")
	}
	return tg
}

// synthDefault builds the app and synthesizes it with cdk.json's context and no bundling, without
// credentials (an environment-agnostic stack), and returns the cloud assembly.
func synthDefault(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	app := filepath.Join(dir, "app")
	build := exec.Command("go", "build", "-o", app, "..")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the app:\n%s", out)
	assembly := filepath.Join(dir, "cdk.out")
	ctx := cdkJSONContext(t, "..")
	ctx["aws:cdk:bundling-stacks"] = []any{}
	runBuilt(t, app, "..", assembly, ctx, false, nil)
	return assembly
}
