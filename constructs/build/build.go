// Package build provides the pipeline's Build stage: a CodeBuild project that runs the buildspec.yml
// of the source, with encrypted artifacts, explicit CloudWatch Logs, a JUnit report group, a cache,
// and secrets taken only from SSM Parameter Store or Secrets Manager.
package build

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// ReportGroupVariable is the environment variable that carries the report group's ARN into the
// build; the buildspec names its JUnit report $JUNIT_REPORT_GROUP, the form CodeBuild documents.
const ReportGroupVariable = "JUNIT_REPORT_GROUP"

// secretLooking matches variable names that must never hold a plaintext value.
var secretLooking = regexp.MustCompile(`(?i)(PASSWORD|SECRET|TOKEN|PRIVATE_KEY|ACCESS_KEY|CREDENTIAL)`)

// Props configures a Build. Nil props means all defaults.
type Props struct {
	// EncryptionKey encrypts the build's output artifacts.
	// Default: a new customer-managed key with rotation on, retained.
	EncryptionKey awskms.IKey
	// BuildImage is the managed image the build runs in. It never runs privileged.
	// Default: awscodebuild.LinuxBuildImage_STANDARD_7_0().
	BuildImage awscodebuild.IBuildImage
	// ComputeType is the build machine's size.
	// Default: awscodebuild.ComputeType_SMALL.
	ComputeType awscodebuild.ComputeType
	// Timeout stops a build that hangs.
	// Default: 20 minutes.
	Timeout awscdk.Duration
	// LogRetention is how long build logs are kept.
	// Default: awslogs.RetentionDays_ONE_YEAR, as audits commonly ask of logs.
	LogRetention awslogs.RetentionDays
	// CacheBucket keeps the build cache (the buildspec's cache paths) between builds.
	// Default: no bucket; CodeBuild's local source and custom cache, which only helps builds
	// that land on the same host shortly after each other.
	CacheBucket awss3.IBucket
	// Variables are plaintext environment variables. A name that looks like a secret (PASSWORD,
	// TOKEN, SECRET, ...) is refused: use ParameterStore or SecretsManager for those.
	// Default: none.
	Variables map[string]string
	// ParameterStore maps environment variable names to SSM parameter names; the project is
	// granted read access to each.
	// Default: none.
	ParameterStore map[string]string
	// SecretsManager maps environment variable names to Secrets Manager references
	// ("secret-id", or "secret-id:json-key"); the project is granted read access to each.
	// Default: none.
	SecretsManager map[string]string
	// VariablesNamespace names the build action's exported variables (BUILD_URL).
	// Default: "BuildVariables".
	VariablesNamespace *string
	// BuildSpec is the path of the buildspec in the source, such as "sample-app/buildspec.yml"
	// for an application in a folder of the repository.
	// Default: buildspec.yml at the source's root, which CodeBuild reads without being told.
	BuildSpec *string
}

// Build is a CodeBuild project with its logs and test report group.
type Build struct {
	constructs.Construct
	// Project is the CodeBuild project.
	Project awscodebuild.PipelineProject
	// LogGroup receives the build logs.
	LogGroup awslogs.LogGroup
	// ReportGroup receives the JUnit test reports.
	ReportGroup awscodebuild.ReportGroup
	namespace   *string
}

// New creates a Build. It panics when a plaintext variable looks like a secret.
func New(scope constructs.Construct, id *string, props *Props) *Build {
	if props == nil {
		props = &Props{}
	}
	b := &Build{namespace: props.VariablesNamespace}
	constructs.NewConstruct_Override(b, scope, id)
	if b.namespace == nil {
		b.namespace = jsii.String("BuildVariables")
	}
	key := props.EncryptionKey
	if key == nil {
		key = secure.NewKey(b, "Key", "Encrypts build artifacts.")
	}
	retention := props.LogRetention
	if retention == "" {
		retention = awslogs.RetentionDays_ONE_YEAR
	}
	b.LogGroup = secure.NewLogGroup(b, "Logs", key, retention)
	b.ReportGroup = awscodebuild.NewReportGroup(b, jsii.String("Tests"), &awscodebuild.ReportGroupProps{
		Type: awscodebuild.ReportGroupType_TEST,
		// Reports are derived from the source and rebuilt by any run; keep no orphans behind.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		DeleteReports: jsii.Bool(true),
	})
	env := environment(props)
	env[ReportGroupVariable] = &awscodebuild.BuildEnvironmentVariable{Value: b.ReportGroup.ReportGroupArn()}
	image := props.BuildImage
	if image == nil {
		image = awscodebuild.LinuxBuildImage_STANDARD_7_0()
	}
	compute := props.ComputeType
	if compute == "" {
		compute = awscodebuild.ComputeType_SMALL
	}
	timeout := props.Timeout
	if timeout == nil {
		timeout = awscdk.Duration_Minutes(jsii.Number(20))
	}
	var spec awscodebuild.BuildSpec
	if props.BuildSpec != nil {
		spec = awscodebuild.BuildSpec_FromSourceFilename(props.BuildSpec)
	}
	b.Project = awscodebuild.NewPipelineProject(b, jsii.String("Project"), &awscodebuild.PipelineProjectProps{
		Description: jsii.String("Tests and builds the application for the CI/CD pipeline."),
		BuildSpec:   spec,
		Environment: &awscodebuild.BuildEnvironment{
			BuildImage:  image,
			ComputeType: compute,
			Privileged:  jsii.Bool(false),
		},
		EnvironmentVariables: &env,
		EncryptionKey:        key,
		Timeout:              timeout,
		Cache:                cache(props.CacheBucket),
		Logging: &awscodebuild.LoggingOptions{
			CloudWatch: &awscodebuild.CloudWatchLoggingOptions{LogGroup: b.LogGroup},
		},
	})
	b.ReportGroup.GrantWrite(b.Project)
	secure.SuppressPolicies(b.Project, "AwsSolutions-IAM5",
		"The library scopes the build role to its artifact bucket and key, its own log streams (log-group:...:*), and the report groups named after the project (report-group/<project>-*).",
		slices.Concat(secure.CodeBuildOwnGrants, secure.ArtifactGrants)...)
	return b
}

// NewAction returns the pipeline action that builds input into output. Its BUILD_URL variable
// (see BuildURL) links to the run.
func (b *Build) NewAction(input, output awscodepipeline.Artifact) awscodepipelineactions.CodeBuildAction {
	return awscodepipelineactions.NewCodeBuildAction(&awscodepipelineactions.CodeBuildActionProps{
		ActionName:         jsii.String("Build"),
		Project:            b.Project,
		Input:              input,
		Outputs:            &[]awscodepipeline.Artifact{output},
		VariablesNamespace: b.namespace,
	})
}

// BuildURL is the pipeline variable expression for the console link of the current run, exported
// by the buildspec.
func (b *Build) BuildURL() *string {
	return jsii.String(fmt.Sprintf("#{%s.BUILD_URL}", *b.namespace))
}

func environment(props *Props) map[string]*awscodebuild.BuildEnvironmentVariable {
	env := map[string]*awscodebuild.BuildEnvironmentVariable{}
	add := func(vars map[string]string, kind awscodebuild.BuildEnvironmentVariableType) {
		for name, value := range vars {
			env[name] = &awscodebuild.BuildEnvironmentVariable{Type: kind, Value: jsii.String(value)}
		}
	}
	for name := range props.Variables {
		if secretLooking.MatchString(name) {
			panic(fmt.Sprintf("build: variable %s looks like a secret; pass it through ParameterStore or SecretsManager, never as plaintext", name))
		}
	}
	add(props.Variables, awscodebuild.BuildEnvironmentVariableType_PLAINTEXT)
	add(props.ParameterStore, awscodebuild.BuildEnvironmentVariableType_PARAMETER_STORE)
	add(props.SecretsManager, awscodebuild.BuildEnvironmentVariableType_SECRETS_MANAGER)
	return env
}

func cache(bucket awss3.IBucket) awscodebuild.Cache {
	if bucket == nil {
		return awscodebuild.Cache_Local(awscodebuild.LocalCacheMode_SOURCE, awscodebuild.LocalCacheMode_CUSTOM)
	}
	return awscodebuild.Cache_Bucket(bucket, &awscodebuild.BucketCacheOptions{Prefix: jsii.String("build-cache")})
}
