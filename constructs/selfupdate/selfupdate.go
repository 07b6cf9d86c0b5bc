// Package selfupdate makes a pipeline deploy itself, as CDK Pipelines' self-mutation does: its
// repository holds the CDK app that synthesizes the pipeline (package seed makes its first
// commit), a stage right after Source deploys the app's stacks when their code changed (Update),
// and pull requests get the infrastructure diff against their target branch (NewReview).
//
// The update stage's build runs the app's pinned CDK CLI with the CDK bootstrap roles of every
// account and region the app deploys to; its own role may assume those roles, read its source,
// write its logs and its cache, and nothing else; and nothing else may write its cache. What the bootstrap roles may do is what the
// accounts were bootstrapped with: docs/security.md.
package selfupdate

import (
	_ "embed"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/constructs/selfupdate/seed"
	"github.com/pipekit/cdk-pipeline/internal/guard"
	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// script is the update's build (see its comments).
//
//go:embed update.sh
var script string

// CacheKey is the object of the artifact bucket that keeps the update's Go and npm caches.
const CacheKey = CachePrefix + "cache.tar.gz"

// CachePrefix is the update's own prefix of the artifact bucket: only the update's role may write
// or delete there (see protectCache).
const CachePrefix = "self-update/"

// Runtimes are the buildspec's runtime-versions: the Go that go.mod names (the image defaults to
// 1.20) and a Node.js the pinned CDK CLI supports.
var Runtimes = map[string]string{"golang": "1.26", "nodejs": "22"}

// BootstrapRoles are the CDK bootstrap roles the update assumes in each account and region it
// deploys to: deploy (CloudFormation, through the execution role it passes), file-publishing (the
// file assets: the functions' code, the seed) and lookup (context lookups that cdk.context.json
// does not hold). The app has no container image assets, so no image-publishing role.
var BootstrapRoles = []string{"deploy", "file-publishing", "lookup"}

// Props configures an Update.
type Props struct {
	// Digest is the infrastructure digest of the app this stack was synthesized from
	// (seed.Seed.Digest): the update deploys when its checkout's differs.
	// Default: none; required.
	Digest *string
	// Targets are the stacks the update deploys (cdk deploy --all): its role may assume the
	// bootstrap roles of each one's account and region, which the stacks' synthesizer names.
	// Default: none; required.
	Targets []awscdk.Stack
	// ArtifactBucket is the pipeline's artifact bucket: the update reads its source there, and
	// keeps its cache there under CacheKey. Its policy gets a statement that denies every other
	// principal writing under CachePrefix, so it must be a bucket of the stack, not an imported
	// one.
	// Default: none; required.
	ArtifactBucket awss3.IBucket
	// ArtifactKey encrypts ArtifactBucket, and the update's logs.
	// Default: none; required.
	ArtifactKey awskms.IKey
	// Timeout stops an update that hangs.
	// Default: 90 minutes: a deploy that creates fleets in several environments takes most of an
	// hour.
	Timeout awscdk.Duration
}

// Update is the update stage's project, its role and its logs.
type Update struct {
	constructs.Construct
	// Project runs the update.
	Project awscodebuild.PipelineProject
	// LogGroup receives its logs.
	LogGroup awslogs.LogGroup
}

// New creates an Update. It panics without Digest, Targets or the artifact store, or when a
// target's synthesizer has no bootstrap qualifier (it is not the DefaultStackSynthesizer).
func New(scope constructs.Construct, id *string, props *Props) *Update {
	guard.Required("selfupdate.New", "Digest", props == nil || props.Digest == nil)
	guard.Required("selfupdate.New", "Targets", len(props.Targets) == 0)
	guard.Required("selfupdate.New", "ArtifactBucket", props.ArtifactBucket == nil || props.ArtifactKey == nil)
	u := &Update{}
	roles := bootstrapRoles(awscdk.Stack_Of(scope).Partition(), props.Targets)
	constructs.NewConstruct_Override(u, scope, id)
	timeout := props.Timeout
	if timeout == nil {
		timeout = awscdk.Duration_Minutes(jsii.Number(90))
	}
	u.LogGroup = secure.NewLogGroup(u, "Logs", props.ArtifactKey, awslogs.RetentionDays_ONE_YEAR)
	u.Project = awscodebuild.NewPipelineProject(u, jsii.String("Project"), &awscodebuild.PipelineProjectProps{
		Description: jsii.String("Deploys the pipeline's own stacks when their code changed."),
		Environment: &awscodebuild.BuildEnvironment{
			BuildImage: awscodebuild.LinuxBuildImage_STANDARD_7_0(),
			// Compiling aws-cdk-go without a cache needs more memory than SMALL's 3 GB.
			ComputeType: awscodebuild.ComputeType_MEDIUM,
			Privileged:  jsii.Bool(false),
		},
		EnvironmentVariables: &map[string]*awscodebuild.BuildEnvironmentVariable{
			"DEPLOYED_DIGEST": {Value: props.Digest},
			"CACHE_BUCKET":    {Value: props.ArtifactBucket.BucketName()},
		},
		BuildSpec:     awscodebuild.BuildSpec_FromObject(Buildspec()),
		EncryptionKey: props.ArtifactKey,
		Timeout:       timeout,
		Logging:       &awscodebuild.LoggingOptions{CloudWatch: &awscodebuild.CloudWatchLoggingOptions{LogGroup: u.LogGroup}},
	})
	u.Project.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("sts:AssumeRole"), Resources: &roles,
	}))
	props.ArtifactBucket.GrantPut(u.Project, jsii.String(CacheKey))
	protectCache(props.ArtifactBucket, u.Project.Role())
	secure.SuppressPolicies(u.Project, "AwsSolutions-IAM5",
		"The library scopes the update's role to its own log streams and report groups (named after the project), the artifact bucket's objects it reads its source from, and the artifact key.",
		slices.Concat(secure.CodeBuildOwnGrants, secure.ArtifactGrants)...)
	return u
}

// protectCache denies every principal but role, the update's, writing or deleting under
// CachePrefix of bucket. The update extracts its cache as root and then runs go, npm and npx with
// the bootstrap roles; the other roles that may write the artifact bucket (the Build project's,
// which runs the application's build and its dependencies; the pipeline's and its actions') could
// otherwise replace the cache with one that runs their code there. aws:PrincipalArn is the role's
// ARN for any session of the role (IAM's global condition keys), so the condition names the role
// however CodeBuild names its session. CodePipeline's own objects are under the pipeline's name,
// never this prefix; S3 Lifecycle's expirations are not requests a bucket policy governs.
func protectCache(bucket awss3.IBucket, role awsiam.IRole) {
	added := bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OnlyTheSelfUpdateWritesItsCache"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("s3:PutObject*", "s3:DeleteObject*"),
		Resources:  jsii.Strings(*bucket.ArnForObjects(jsii.String(CachePrefix + "*"))),
		Conditions: &map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": role.RoleArn()}},
	}))
	if !*added.StatementAdded {
		panic("selfupdate.New: props.ArtifactBucket: the stack cannot change its bucket policy (an imported bucket): the update's cache needs a policy that only the update's role may write it")
	}
}

// NewAction returns the pipeline action that runs the update on input, the Source action's
// output.
func (u *Update) NewAction(input awscodepipeline.Artifact) awscodepipelineactions.CodeBuildAction {
	return awscodepipelineactions.NewCodeBuildAction(&awscodepipelineactions.CodeBuildActionProps{
		ActionName: jsii.String("Update"),
		Project:    u.Project,
		Input:      input,
	})
}

// Buildspec is the update's buildspec: the runtimes, the caches' folders, and the update script,
// after the function that computes the checkout's digest.
func Buildspec() *map[string]any {
	digest := "infrastructure_digest() {\n  " + seed.DigestCommand() + "\n}"
	return &map[string]any{
		"version": "0.2",
		"env": map[string]any{
			"shell": "bash",
			"variables": map[string]string{
				"GOMODCACHE": "/root/.cache/go-mod", "GOCACHE": "/root/.cache/go-build", "npm_config_cache": "/root/.npm",
				"CDK_DISABLE_CLI_TELEMETRY": "true",
			},
		},
		"phases": map[string]any{
			"install": map[string]any{"runtime-versions": Runtimes},
			// One command: CodeBuild carries a command's exported variables to the next, not its
			// functions (nor its arrays: aws/aws-cdk#26694, "put that in a script file"), so the
			// function is defined where it is called.
			"build": map[string]any{"commands": []string{digest + "\n(\n" + strings.TrimPrefix(script, "#!/usr/bin/env bash\n") + ")"}},
		},
	}
}

// bootstrapRoles are the ARNs of the BootstrapRoles of every target's account and region, once
// each, as the DefaultStackSynthesizer names them: arn:<partition>:iam::<account>:role/
// cdk-<qualifier>-<role>-role-<account>-<region>. The targets are in partition, the stack's.
func bootstrapRoles(partition *string, targets []awscdk.Stack) []*string {
	templates := map[string]*string{
		"deploy":          awscdk.DefaultStackSynthesizer_DEFAULT_DEPLOY_ROLE_ARN(),
		"file-publishing": awscdk.DefaultStackSynthesizer_DEFAULT_FILE_ASSET_PUBLISHING_ROLE_ARN(),
		"lookup":          awscdk.DefaultStackSynthesizer_DEFAULT_LOOKUP_ROLE_ARN(),
	}
	var arns []*string
	seen := map[string]bool{}
	for _, stack := range targets {
		qualifier := stack.Synthesizer().BootstrapQualifier()
		if qualifier == nil {
			panic("selfupdate.New: props.Targets: " + *stack.StackName() + " has no bootstrap qualifier: the update deploys with the DefaultStackSynthesizer's bootstrap roles")
		}
		where := *stack.Account() + "/" + *stack.Region()
		if seen[where] {
			continue
		}
		seen[where] = true
		for _, role := range BootstrapRoles {
			arn := strings.NewReplacer("${Qualifier}", *qualifier, "${AWS::AccountId}", *stack.Account(), "${AWS::Region}", *stack.Region(),
				"${AWS::Partition}", *partition).Replace(*templates[role])
			arns = append(arns, jsii.String(arn))
		}
	}
	return arns
}
