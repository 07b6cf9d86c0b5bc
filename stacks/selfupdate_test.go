package stacks_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/constructs/selfupdate"
	"github.com/pipekit/cdk-pipeline/constructs/selfupdate/seed"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
	"github.com/pipekit/cdk-pipeline/settings"
	"github.com/pipekit/cdk-pipeline/stacks"
)

// TestSelfUpdate: with selfUpdate the repository starts with this app (its seed's recorded asset
// and executable files); the update stage comes right after Source, before Build and the first
// deploy stage, and the pipeline restarts on an update; its role may assume the bootstrap roles of
// the pipeline's account and region and of every other the app deploys to; Build and the
// application's pull-request checks work in sample-app/; pull requests also get the
// infrastructure review, with an approval rule of its own; the operators read the new builds.
func TestSelfUpdate(t *testing.T) {
	if cdktest.Offloaded(t) {
		return
	}
	ctx := cdktest.Context()
	ctx["selfUpdate"] = "true"
	ctx["environments"] = `[{"name":"beta","approval":false},{"name":"prod","account":"` + cdktest.OtherAccount + `"},{"name":"dr","region":"us-east-1","approval":false}]`
	s := parsed(t, ctx)
	staged, err := seed.Stage("..", filepath.Join(t.TempDir(), "seed"), ctx, settings.Keys)
	require.NoError(t, err)
	app := cdktest.NewApp()
	stack := stacks.NewPipelineStack(app, jsii.String("SelfUpdating"), &stacks.Props{Settings: s, SelfUpdate: staged,
		StackProps: awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String(cdktest.Account), Region: jsii.String("eu-west-1")}}})
	var all []awscdk.Stack
	for _, child := range *app.Node().Children() {
		if st, ok := child.(awscdk.Stack); ok {
			all = append(all, st)
		}
	}
	synths := cdktest.SynthAll(t, all...)
	for _, syn := range synths {
		assert.Empty(t, syn.NagErrors, *syn.Stack.StackName())
	}
	p := synths[0]
	require.Equal(t, stack, p.Stack)

	assert.Equal(t, []string{"Source", "SelfUpdate", "Build", "Deploy-beta", "Approve-prod", "Deploy-prod", "Deploy-dr"}, stageNames(p))
	assert.Len(t, stageNames(p), s.Stages(), "the settings count the update stage")
	assert.Equal(t, true, p.Props("AWS::CodePipeline::Pipeline")["RestartExecutionOnUpdate"], "an execution that updated the pipeline continues on the new definition")
	update := stagesOf(p)["SelfUpdate"]["Actions"].([]any)[0].(object)
	assert.Equal(t, object{"Name": "Source"}, update["InputArtifacts"].([]any)[0], "the update deploys the pushed commit")

	// The update: its digest, its buildspec, its role's bootstrap roles.
	var project object
	for id, r := range p.Resources("AWS::CodeBuild::Project") {
		if strings.HasPrefix(id, "SelfUpdate") {
			project = r["Properties"].(object)
		}
	}
	require.NotNil(t, project)
	assert.Contains(t, toJSON(project["Environment"]), `{"Name":"DEPLOYED_DIGEST","Type":"PLAINTEXT","Value":"`+staged.Digest+`"}`)
	var spec object
	require.NoError(t, json.Unmarshal([]byte(project["Source"].(object)["BuildSpec"].(string)), &spec))
	assert.Equal(t, toJSON(selfupdate.Buildspec()), toJSON(spec))
	lines, err := p.Permissions("SelfUpdate/Project/Role")
	require.NoError(t, err)
	var assumed, want []string
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "Allow sts:AssumeRole on "); ok {
			for _, arn := range strings.Split(rest, ", ") {
				_, role, _ := strings.Cut(arn, ":iam::")
				assumed = append(assumed, role)
			}
		}
	}
	for _, where := range [][2]string{{cdktest.Account, "eu-west-1"}, {cdktest.OtherAccount, "eu-west-1"}, {cdktest.Account, "us-east-1"}} {
		for _, role := range selfupdate.BootstrapRoles {
			want = append(want, where[0]+":role/cdk-hnb659fds-"+role+"-role-"+where[0]+"-"+where[1])
		}
	}
	assert.ElementsMatch(t, want, assumed, "the three bootstrap roles of each account and region the app deploys to, and no other role")

	// The cache the update extracts as root: only the update's role writes or deletes it, not the
	// Build project's role, which runs the application's build and may write the rest of the bucket.
	var cacheGuard []string
	for _, bp := range p.Resources("AWS::S3::BucketPolicy") {
		props := bp["Properties"].(object)
		for _, st := range props["PolicyDocument"].(object)["Statement"].([]any) {
			if st := st.(object); st["Sid"] == "OnlyTheSelfUpdateWritesItsCache" {
				cacheGuard = append(cacheGuard, p.Render(props["Bucket"])+": "+st["Effect"].(string)+" "+p.Render(st["Action"])+" on "+p.Render(st["Resource"])+
					" by "+toJSON(st["Principal"])+" unless "+p.Render(st["Condition"].(object)["ArnNotEquals"].(object)["aws:PrincipalArn"]))
			}
		}
	}
	assert.Equal(t, []string{`${Pipeline/ArtifactBucket}: Deny ["s3:DeleteObject*","s3:PutObject*"] on ${Pipeline/ArtifactBucket.Arn}/self-update/* by {"AWS":"*"} unless ${SelfUpdate/Project/Role.Arn}`}, cacheGuard)
	assert.Contains(t, permissionsOf(t, p, "Build/Project/Role"), readWriteArtifacts, "the Build role's grant, which the deny overrides under self-update/")

	// The seed: the recorded asset hash and executables, not the staged folder's.
	repo := p.Props("AWS::CodeCommit::Repository")
	sum := sha256.Sum256([]byte(staged.Record.Asset))
	assert.Equal(t, hex.EncodeToString(sum[:])+".zip", repo["Code"].(object)["S3"].(object)["Key"])
	modes := ""
	for _, r := range p.Resources("Custom::AWS") {
		if text := strings.ReplaceAll(toJSON(r["Properties"]), `\`, ""); strings.Contains(text, `"action":"createCommit"`) {
			modes = text
		}
	}
	assert.Contains(t, modes, `{"fileMode":"EXECUTABLE","filePath":"sample-app/scripts/validate_service.sh"}`)
	assert.Equal(t, len(staged.Record.Executables), strings.Count(modes, `"fileMode":"EXECUTABLE"`))

	// Build and the application's checks in sample-app/; the review beside them.
	p.Has(t, "AWS::CodeBuild::Project", object{"Description": "Tests and builds the application for the CI/CD pipeline.",
		"Source":      object{"Type": "CODEPIPELINE", "BuildSpec": "sample-app/buildspec.yml"},
		"Environment": objectLike(object{"EnvironmentVariables": arrayWith(object{"Name": "APP_DIR", "Type": "PLAINTEXT", "Value": "sample-app"})})})
	checks := map[string]object{}
	for _, r := range p.Resources("AWS::CodeBuild::Project") {
		props := r["Properties"].(object)
		var spec object
		if json.Unmarshal([]byte(props["Source"].(object)["BuildSpec"].(string)), &spec) == nil && props["Source"].(object)["Type"] == "CODECOMMIT" {
			checks[props["Description"].(string)] = spec
		}
	}
	require.Len(t, checks, 2)
	build := func(spec object) []any { return spec["phases"].(object)["build"].(object)["commands"].([]any) }
	assert.Equal(t, []any{"cd 'sample-app'", "go vet ./...", "go test ./..."}, build(checks["Runs the checks of a pull request and reports on it."]))
	review := checks["Diffs a pull request's infrastructure against its target and reports on it."]
	require.NotNil(t, review)
	assert.Equal(t, toJSON(selfupdate.ReviewCommands), toJSON(build(review)))
	assert.Equal(t, 2, strings.Count(p.Text(), `createApprovalRuleTemplate`), "an approval rule each: merging needs both")
	assert.Contains(t, p.Text(), `"Sid":"ProtectedBranchChangesOnlyThroughPullRequests"`, "the operators still cannot push to the branch")
	operators, err := p.Permissions("Operators/Group")
	require.NoError(t, err)
	// A start by hand may name any commit: the update stage would deploy it unreviewed.
	assert.Contains(t, operators, "Deny codepipeline:StartPipelineExecution on arn:aws:codepipeline:eu-west-1:123456789012:${Pipeline/Pipeline}", strings.Join(operators, "\n"))
	assert.False(t, slices.ContainsFunc(operators, func(l string) bool {
		return strings.HasPrefix(l, "Allow ") && strings.Contains(l, "codepipeline:StartPipelineExecution")
	}), "the operators may not start it")
	for _, logs := range []string{"SelfUpdate/Logs", "InfrastructureReview/Logs"} {
		assert.True(t, slices.ContainsFunc(operators, func(l string) bool {
			return strings.HasPrefix(l, "Allow logs:") && strings.Contains(l, "${"+logs+".Arn}")
		}), "the operators read the %s logs: %s", logs, strings.Join(operators, "\n"))
	}
}

// TestSelfUpdateNeedsTheApp: the setting without the app to deploy is one line.
func TestSelfUpdateNeedsTheApp(t *testing.T) {
	s := settings.Defaults()
	s.SelfUpdate = true
	assert.PanicsWithValue(t, "stacks.NewPipelineStack: props.SelfUpdate (the app's seed, from seed.Stage, which Settings.SelfUpdate deploys from the repository) is required", func() {
		stacks.NewPipelineStack(cdktest.NewApp(), jsii.String("X"), &stacks.Props{Settings: s})
	})
}
