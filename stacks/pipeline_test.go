package stacks_test

import (
	"encoding/json"
	"maps"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/internal/cdktest"
	"github.com/pipekit/cdk-pipeline/notify"
	"github.com/pipekit/cdk-pipeline/settings"
	"github.com/pipekit/cdk-pipeline/stacks"
)

// TestMain runs the tests of the multi-stack apps in a second process beside this one (see
// cdktest.Main): go test runs this package last, alone, and jsii uses one core per process.
func TestMain(m *testing.M) {
	cdktest.Main(m, "TestAccountsAndRegions", "TestSelfUpdate")
}

// object is a JSON object, as the tests read templates and write patterns. In a pattern it is
// aws-cdk's literal: inside Has and objectLike it names some of the keys and ignores the others
// (and so do the objects nested in it); exact says where a whole object must match, as it must
// inside arrayWith.
type object = map[string]any

// The matchers the tests use, named as aws-cdk's Match names them.
var (
	objectLike = cdktest.ObjectLike        // an object with at least these keys, matching
	arrayWith  = cdktest.ArrayWith         // an array with these items, in this order, among others
	exact      = assertions.Match_Exact    // exactly this value: every key of every object
	anyValue   = assertions.Match_AnyValue // any value but absence
)

// Each configuration is synthesized once, on first use, and shared by every test that asks.
var synthesized = map[string]*cdktest.Synthesized{}

var configurations = map[string]func(*settings.Settings){
	// The defaults: a new repository, approval, a fleet behind a load balancer.
	"default": func(*settings.Settings) {},
	// Existing repository and instances, continuous deployment, every subscriber protocol.
	"instances": func(s *settings.Settings) {
		s.ImportRepository, s.RepositoryName, s.Branch = true, "legacy-app", "release/1"
		s.Approval = false
		s.DeployTarget, s.InstanceTag, s.DeploymentConfig = settings.Instances, settings.Tag{Key: "Env", Value: "prod"}, "AllAtOnce"
		s.NotifyOn, s.ExecutionMode, s.TerminationProtection = []notify.PipelineState{notify.PipelineFailed}, "QUEUED", false
		s.StageRollback = false
		s.OperatorUsers = []string{"alice", "bob"}
		s.PullRequestChecks = false
		s.Notifications = []settings.Subscriber{
			{Protocol: "email", Endpoint: "ops@example.com"},
			{Protocol: "email-json", Endpoint: "robot@example.com"},
			{Protocol: "http", Endpoint: "http://hooks.example.com/in"},
			{Protocol: "https", Endpoint: "https://hooks.example.com/in"},
			{Protocol: "sqs", Endpoint: "arn:aws:sqs:us-east-1:123456789012:events"},
			{Protocol: "lambda", Endpoint: "arn:aws:lambda:us-east-1:123456789012:function:notify"},
			{Protocol: "firehose", Endpoint: "arn:aws:firehose:us-east-1:123456789012:deliverystream/events"},
			{Protocol: "application", Endpoint: "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/app/5e3e9847-3183-3f18-a7e8-671c3a57d4b3"},
			{Protocol: "sms", Endpoint: "+14155550100"},
		}
	},
	// The defaults in a known account and region, as cdk deploy with credentials synthesizes them:
	// ARNs become literals, which every suppression must still match.
	"regional": func(s *settings.Settings) {
		s.Notifications = []settings.Subscriber{{Protocol: "lambda", Endpoint: "arn:aws:lambda:eu-west-1:123456789012:function:notify"}}
		s.FleetSize, s.InstanceType, s.DeploymentConfig = 3, "t3.small", "HalfAtATime"
		s.RepositoryName, s.Branch = "shop", "develop"
	},
	// Elastic Beanstalk, with approvers to tell.
	"beanstalk": func(s *settings.Settings) {
		s.DeployTarget, s.BeanstalkApplication, s.BeanstalkEnvironment = settings.Beanstalk, "tutorial", "tutorial-env"
		s.ApproverEmails = []string{"lead@example.com"}
	},
}

func synth(t *testing.T, name string) *cdktest.Synthesized {
	t.Helper()
	if s, ok := synthesized[name]; ok {
		return s
	}
	s := settings.Defaults()
	configurations[name](&s)
	require.NoError(t, s.Validate())
	props := &stacks.Props{Settings: s, SeedDirectory: "../sample-app"}
	if name == "regional" {
		props.Env = &awscdk.Environment{Account: jsii.String(cdktest.Account), Region: jsii.String("eu-west-1")}
	}
	stack := stacks.NewPipelineStack(cdktest.NewApp(), jsii.String("Test"), props)
	synthesized[name] = cdktest.Synth(t, stack)
	return synthesized[name]
}

// TestNilProps: the stack needs its settings, and says so in one line.
func TestNilProps(t *testing.T) {
	assert.PanicsWithValue(t, "stacks.NewPipelineStack: props.Settings is required", func() {
		stacks.NewPipelineStack(cdktest.NewApp(), jsii.String("Nil"), nil)
	})
}

// TestStagesAreCountedAsSynthesized: the settings count the stages the stack makes, so that their
// refusal of more than CodePipeline's 50 holds as the stack changes.
func TestStagesAreCountedAsSynthesized(t *testing.T) {
	require.NotEmpty(t, configurations)
	for name := range configurations {
		s := settings.Defaults()
		configurations[name](&s)
		assert.Len(t, synth(t, name).Props("AWS::CodePipeline::Pipeline")["Stages"], s.Stages(), name)
	}
}

func TestEveryConfigurationIsNagClean(t *testing.T) {
	for name := range configurations {
		assert.Empty(t, synth(t, name).NagErrors, "%s: unsuppressed cdk-nag errors", name)
	}
}

func TestNoAdministratorAccessAndNoUsers(t *testing.T) {
	for name := range configurations {
		s := synth(t, name)
		absent(t, s, `policy/AdministratorAccess"`, name)
		s.Count(t, "AWS::IAM::User", 0)
		s.Count(t, "AWS::IAM::AccessKey", 0)
	}
}

func stageNames(s *cdktest.Synthesized) []string {
	var names []string
	for _, st := range s.Props("AWS::CodePipeline::Pipeline")["Stages"].([]any) {
		names = append(names, st.(object)["Name"].(string))
	}
	return names
}

func TestDefaultPipeline(t *testing.T) {
	s := synth(t, "default")
	assert.Equal(t, []string{"Source", "Build", "Approve", "Deploy"}, stageNames(s))
	s.Has(t, "AWS::CodePipeline::Pipeline", object{"PipelineType": "V2", "ExecutionMode": "SUPERSEDED", "RestartExecutionOnUpdate": false})
	s.Has(t, "AWS::CodePipeline::Pipeline", object{"Stages": arrayWith(objectLike(object{"Name": "Source", "Actions": arrayWith(objectLike(object{
		"ActionTypeId":    object{"Category": "Source", "Owner": "AWS", "Provider": "CodeCommit", "Version": "1"},
		"Configuration":   object{"RepositoryName": anyValue(), "BranchName": "main", "PollForSourceChanges": false},
		"Namespace":       "SourceVariables",
		"OutputArtifacts": []any{object{"Name": "Source"}},
	}))}))})
	// Pushes to main start the pipeline through EventBridge, not polling.
	s.Has(t, "AWS::Events::Rule", object{
		"EventPattern": object{"source": []any{"aws.codecommit"}, "detail": objectLike(object{"referenceName": []any{"main"}})},
		"Targets":      arrayWith(objectLike(object{"Arn": anyValue()})),
	})
	s.Has(t, "AWS::CodeCommit::Repository", object{"RepositoryName": "sample-app", "Code": object{"BranchName": "main", "S3": anyValue()}})
	// The seed's hook scripts are executable in the repository, and the pipeline's first
	// execution, which starts when it is created, reads that commit.
	modes := s.Resources("Custom::AWS")["SourceSeedModes553D340F"]
	require.NotNil(t, modes)
	for _, script := range []string{"after_install", "application_start", "application_stop", "before_install", "validate_service"} {
		assert.Contains(t, toJSON(modes), `{\"fileMode\":\"EXECUTABLE\",\"filePath\":\"scripts/`+script+`.sh\"}`)
	}
	for _, p := range s.Resources("AWS::CodePipeline::Pipeline") {
		assert.Contains(t, p["DependsOn"], "SourceSeedModes553D340F")
	}
	s.HasResource(t, "AWS::CodeCommit::Repository", object{"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"})
	assert.True(t, *s.Stack.TerminationProtection())
	for _, out := range []string{"RepositoryCloneUrlHttp", "RepositoryCloneUrlGrc", "PipelineConsoleUrl", "AppUrl"} {
		assert.Contains(t, s.JSON["Outputs"], out)
	}
	assert.NotContains(t, s.JSON["Outputs"], "InstancePolicyArn")
}

func TestDefaultBuild(t *testing.T) {
	s := synth(t, "default")
	s.Has(t, "AWS::CodeBuild::Project", object{
		"Environment": objectLike(object{
			"Image": "aws/codebuild/standard:7.0", "PrivilegedMode": false, "Type": "LINUX_CONTAINER",
			"EnvironmentVariables": arrayWith(objectLike(object{"Name": "JUNIT_REPORT_GROUP", "Type": "PLAINTEXT", "Value": object{"Fn::GetAtt": []any{anyValue(), "Arn"}}})),
		}),
		// Exactly: no BuildSpec, so CodeBuild runs the repository's buildspec.yml, which the
		// rehearsal runs and the checks below read.
		"Source":           exact(object{"Type": "CODEPIPELINE"}),
		"TimeoutInMinutes": 20.0,
		"EncryptionKey":    object{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^PipelineArtifactKey")), "Arn"}},
		"LogsConfig":       object{"CloudWatchLogs": object{"Status": "ENABLED", "GroupName": object{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^BuildLogs"))}}},
		"Cache":            object{"Type": "S3", "Location": anyValue()},
	})
	s.Has(t, "AWS::CodeBuild::ReportGroup", object{"Type": "TEST"})
	s.Has(t, "AWS::Logs::LogGroup", object{"RetentionInDays": 365.0, "KmsKeyId": anyValue()})
	// The buildspec names its report group through the variable the project sets.
	spec, err := os.ReadFile("../sample-app/buildspec.yml")
	require.NoError(t, err)
	assert.Contains(t, string(spec), "  $JUNIT_REPORT_GROUP:", "the form CodeBuild documents for a report group in a variable")
	assert.Contains(t, string(spec), "exported-variables:\n    # The manual approval links to this build, so approvers can read its tests first.\n    - BUILD_URL")
}

func TestArtifactStore(t *testing.T) {
	s := synth(t, "default")
	s.Has(t, "AWS::S3::Bucket", object{
		"BucketEncryption": object{"ServerSideEncryptionConfiguration": arrayWith(objectLike(object{
			"ServerSideEncryptionByDefault": object{"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": anyValue()}, "BucketKeyEnabled": true,
		}))},
		"PublicAccessBlockConfiguration": object{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true},
		"VersioningConfiguration":        object{"Status": "Enabled"},
		"LifecycleConfiguration": object{"Rules": []any{object{
			"Id": "ExpireReplacedVersions", "Status": "Enabled", "NoncurrentVersionExpiration": object{"NoncurrentDays": 7.0},
			"AbortIncompleteMultipartUpload": object{"DaysAfterInitiation": 1.0}, "ExpiredObjectDeleteMarker": true,
		}}},
		"LoggingConfiguration": object{"DestinationBucketName": anyValue(), "LogFilePrefix": "artifact-bucket/"},
	})
	// Every bucket denies requests without TLS.
	s.Count(t, "AWS::S3::BucketPolicy", 2)
	for id, p := range s.Resources("AWS::S3::BucketPolicy") {
		assert.Contains(t, toJSON(p), `"aws:SecureTransport":"false"`, id)
	}
	// Control Tower CT.KMS.PR.1 and CT.KMS.PR.3: rotation, and grants only for AWS services.
	grantGuard := `{"Action":"kms:CreateGrant","Condition":{"BoolIfExists":{"aws:PrincipalIsAWSService":"false","kms:GrantIsForAWSResource":"false"}},"Effect":"Deny","Principal":{"AWS":"*"},"Resource":"*","Sid":"DenyGrantsExceptForAWSServices"}`
	s.Count(t, "AWS::KMS::Key", 2)
	for id, k := range s.Resources("AWS::KMS::Key") {
		assert.Equal(t, true, k["Properties"].(object)["EnableKeyRotation"], id)
		assert.Equal(t, "RetainExceptOnCreate", k["DeletionPolicy"], id)
		assert.Contains(t, toJSON(k["Properties"].(object)["KeyPolicy"]), grantGuard, id)
	}
	// CT.S3.PR.4: object events reach EventBridge, without a custom resource.
	s.Count(t, "AWS::S3::Bucket", 2)
	for id, b := range s.Resources("AWS::S3::Bucket") {
		assert.Equal(t, "RetainExceptOnCreate", b["DeletionPolicy"], id)
		assert.Equal(t, object{"EventBridgeConfiguration": object{"EventBridgeEnabled": true}}, b["Properties"].(object)["NotificationConfiguration"], id)
	}
	s.Count(t, "Custom::S3BucketNotifications", 0)
	// A failed first deploy must not block its retry: nothing survives the rollback of the create
	// that made it.
	for id, r := range s.JSON["Resources"].(object) {
		assert.NotEqual(t, "Retain", r.(object)["DeletionPolicy"], id)
	}
}

// TestStatefulLogicalIDs pins the ids of the resources that hold data. If this fails, a refactor
// moved or renamed a construct, and the next deploy would replace (and orphan) the resource.
// Change the ids back; never change this list to match.
func TestStatefulLogicalIDs(t *testing.T) {
	s := synth(t, "default")
	assert.Equal(t, []string{"SourceRepository74575110"}, s.LogicalIDs("AWS::CodeCommit::Repository"))
	assert.Equal(t, []string{"PipelineAccessLogs3A10AC0B", "PipelineArtifactBucket5F943F51"}, s.LogicalIDs("AWS::S3::Bucket"))
	assert.Equal(t, []string{"NotificationKeyBC4C5BE7", "PipelineArtifactKeyFFEED257"}, s.LogicalIDs("AWS::KMS::Key"))
	assert.Subset(t, s.LogicalIDs("AWS::Logs::LogGroup"), []string{"BuildLogs04E75593", "PullRequestChecksLogs59ED8E63", "DeliveryLogsE7964E8F"})
	assert.Equal(t, []string{"DeliveryStateC533DCCE"}, s.LogicalIDs("AWS::DynamoDB::Table"))
}

// TestDeliveryMetrics: the default stack measures its one deploy stage, with the artifact key and
// the notifications' dead-letter queue, and links to the dashboard.
func TestDeliveryMetrics(t *testing.T) {
	s := synth(t, "default")
	s.Has(t, "AWS::Lambda::Function", object{"Environment": object{"Variables": objectLike(object{"STAGES": "Deploy", "PIPELINE": object{"Ref": anyValue()}})}})
	s.Has(t, "AWS::DynamoDB::Table", object{"SSESpecification": objectLike(object{"KMSMasterKeyId": getAtt("PipelineArtifactKey")})})
	s.Has(t, "AWS::Lambda::EventInvokeConfig", object{"FunctionName": object{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^DeliveryFunction"))},
		"DestinationConfig": object{"OnFailure": object{"Destination": getAtt("NotificationRuleDeadLetters")}}})
	assert.Contains(t, s.JSON["Outputs"], "DashboardUrl")
	s.Count(t, "AWS::CloudWatch::Dashboard", 1)
}

// absent asserts that text appears nowhere in the template, without printing the template.
func absent(t *testing.T, s *cdktest.Synthesized, text, what string) {
	t.Helper()
	if strings.Contains(s.Text(), text) {
		t.Errorf("%s: the template contains %q", what, text)
	}
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestImportedRepositoryAndBranch(t *testing.T) {
	s := synth(t, "instances")
	s.Count(t, "AWS::CodeCommit::Repository", 0)
	s.Has(t, "AWS::CodePipeline::Pipeline", object{"Stages": arrayWith(objectLike(object{"Name": "Source", "Actions": arrayWith(objectLike(object{
		"Configuration": object{"RepositoryName": "legacy-app", "BranchName": "release/1", "PollForSourceChanges": false},
	}))}))})
	s.Has(t, "AWS::Events::Rule", object{"EventPattern": objectLike(object{
		"source": []any{"aws.codecommit"}, "resources": arrayWith(objectLike(object{"Fn::Join": anyValue()})),
		"detail": objectLike(object{"referenceName": []any{"release/1"}}),
	})})
	assert.False(t, *s.Stack.TerminationProtection())
	s.Has(t, "AWS::CodePipeline::Pipeline", object{"ExecutionMode": "QUEUED"})
}

func TestContinuousDeploymentHasNoApproval(t *testing.T) {
	s := synth(t, "instances")
	assert.Equal(t, []string{"Source", "Build", "Deploy"}, stageNames(s))
	absent(t, s, "codepipeline:PutApprovalResult", "approval permission")
}

func TestApprovalCarriesContext(t *testing.T) {
	s := synth(t, "default")
	s.Has(t, "AWS::CodePipeline::Pipeline", object{"Stages": arrayWith(objectLike(object{"Name": "Approve", "Actions": arrayWith(objectLike(object{
		"ActionTypeId": object{"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"},
		"Configuration": objectLike(object{
			"CustomData":         assertions.Match_StringLikeRegexp(jsii.String(`#\{SourceVariables\.CommitId\}[\s\S]*#\{SourceVariables\.CommitMessage\}[\s\S]*#\{BuildVariables\.BUILD_URL\}`)),
			"ExternalEntityLink": object{"Fn::Join": arrayWith("", arrayWith("http://", exact(object{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^FleetLoadBalancer")), "DNSName"}})))},
		}),
	}))}))})
	// Operators may answer exactly this approval.
	assert.Contains(t, permissionsOf(t, s, "Operators/Group"), "Allow codepipeline:PutApprovalResult on "+in("codepipeline", "${Pipeline/Pipeline}/Approve/Approve"))
	// With approvers, requests go to an encrypted topic they are subscribed to.
	b := synth(t, "beanstalk")
	b.Has(t, "AWS::SNS::Subscription", object{"Protocol": "email", "Endpoint": "lead@example.com", "TopicArn": object{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^ApprovalTopic"))},
		"RedrivePolicy": object{"deadLetterTargetArn": getAtt("NotificationSubscriptionDeadLetters")}})
	b.Has(t, "AWS::SNS::Topic", object{"DisplayName": "Pipeline approvals", "KmsMasterKeyId": anyValue()})
	b.Has(t, "AWS::CodePipeline::Pipeline", object{"Stages": arrayWith(objectLike(object{"Name": "Approve", "Actions": arrayWith(objectLike(object{
		"Configuration": objectLike(object{"NotificationArn": object{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^ApprovalTopic"))}}),
	}))}))})
}

func TestFleet(t *testing.T) {
	s := synth(t, "default")
	// EC2 health checks: no replacement loop before the first release.
	s.Has(t, "AWS::AutoScaling::AutoScalingGroup", object{"MinSize": "2", "MaxSize": "2", "HealthCheckType": "EC2"})
	s.Has(t, "AWS::EC2::LaunchTemplate", object{"LaunchTemplateData": objectLike(object{
		"InstanceType":        "t3.micro",
		"MetadataOptions":     object{"HttpTokens": "required"},
		"BlockDeviceMappings": arrayWith(objectLike(object{"Ebs": objectLike(object{"Encrypted": true})})),
		"UserData":            anyValue(),
	})})
	lt := s.Props("AWS::EC2::LaunchTemplate")["LaunchTemplateData"].(object)
	assert.NotContains(t, lt, "KeyName", "no SSH key")
	userData := toJSON(lt["UserData"])
	for _, want := range []string{"retry 10 dnf install -y ruby aws-cfn-bootstrap", "aws-codedeploy-${region:?}.s3.${region}.${url_suffix:?}/latest/install",
		"systemctl is-active --quiet codedeploy-agent", "/opt/aws/bin/cfn-signal", "trap exitTrap EXIT"} {
		assert.Contains(t, userData, want, "the agent is installed at boot, with retries, and its status signalled")
	}
	assert.NotContains(t, userData, "update -y", "no whole-system update at boot")
	// The group is created once every instance signals; the pipeline, whose first execution starts
	// on creation, after it.
	asgs := s.Resources("AWS::AutoScaling::AutoScalingGroup")
	require.Len(t, asgs, 1)
	for id, asg := range asgs {
		assert.Equal(t, object{"ResourceSignal": object{"Count": 2.0, "Timeout": "PT15M"}}, asg["CreationPolicy"])
		assert.Contains(t, userData, "--resource "+id)
		for _, p := range s.Resources("AWS::CodePipeline::Pipeline") {
			assert.Contains(t, p["DependsOn"], id)
		}
	}
	absent(t, s, `"FromPort":22`, "SSH port")
	s.Count(t, "AWS::EC2::NatGateway", 0)
	s.Count(t, "AWS::EC2::Subnet", 2)
	s.Has(t, "AWS::ElasticLoadBalancingV2::TargetGroup", object{"Port": 8080.0, "HealthCheckPath": "/health"})
	s.Has(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", object{"Scheme": "internet-facing"})
	// Exactly, but for the generated names: what rolls back, on which alarms, behind which target
	// group, with traffic blocked while an instance updates.
	s.Has(t, "AWS::CodeDeploy::DeploymentGroup", exact(object{
		"ApplicationName":           ref("FleetApplication"),
		"ServiceRoleArn":            getAtt("FleetDeploymentGroupRole"),
		"DeploymentConfigName":      "CodeDeployDefault.OneAtATime",
		"AutoRollbackConfiguration": object{"Enabled": true, "Events": []any{"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_STOP_ON_ALARM"}},
		"AlarmConfiguration":        object{"Enabled": true, "Alarms": []any{object{"Name": ref("FleetServerErrors")}, object{"Name": ref("FleetSlowResponses")}}},
		"LoadBalancerInfo":          object{"TargetGroupInfoList": []any{object{"Name": object{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^FleetLoadBalancerHttpAppGroup")), "TargetGroupName"}}}}},
		"AutoScalingGroups":         []any{ref("FleetInstancesASG")},
		"DeploymentStyle":           object{"DeploymentOption": "WITH_TRAFFIC_CONTROL"},
		"TerminationHookEnabled":    true,
	}))
	// Alarms that would fire before the first release would stop every release.
	s.Has(t, "AWS::CloudWatch::Alarm", object{"MetricName": "HTTPCode_Target_5XX_Count", "Namespace": "AWS/ApplicationELB", "TreatMissingData": "notBreaching"})
	s.Has(t, "AWS::CloudWatch::Alarm", object{"MetricName": "TargetResponseTime", "ExtendedStatistic": "p99", "TreatMissingData": "notBreaching"})
	absent(t, s, "UnHealthyHostCount", "an unhealthy-host alarm")
	s.Has(t, "AWS::EC2::FlowLog", object{"LogDestinationType": "s3"})
}

// TestCodeDeployRoleForLaunchTemplates: AWS documents ec2:RunInstances, ec2:CreateTags and
// iam:PassRole for a CodeDeploy service role whose Auto Scaling group uses a launch template; each
// is limited to this fleet.
func TestCodeDeployRoleForLaunchTemplates(t *testing.T) {
	s := synth(t, "default")
	var policy string
	for id, p := range s.Resources("AWS::IAM::Policy") {
		if strings.HasPrefix(id, "FleetDeploymentGroupRole") {
			policy = toJSON(p)
		}
	}
	for _, want := range []string{`"Action":"ec2:RunInstances","Condition":{"ArnEquals":{"ec2:LaunchTemplate":`,
		`"Action":"ec2:CreateTags","Condition":{"StringEquals":{"ec2:CreateAction":"RunInstances"}}`,
		`"Action":"iam:PassRole","Condition":{"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"}},"Effect":"Allow","Resource":{"Fn::GetAtt":["FleetInstanceRole`} {
		assert.Contains(t, policy, want)
	}
}

// TestCustomResourceFunctionsLogEncrypted: the functions behind custom resources log to one
// encrypted group kept a year, not to implicit groups kept forever.
func TestCustomResourceFunctionsLogEncrypted(t *testing.T) {
	s := synth(t, "default")
	s.Has(t, "AWS::Logs::LogGroup", object{"RetentionInDays": 365.0, "KmsKeyId": anyValue()})
	s.Count(t, "AWS::Lambda::Function", 4) // the formatter, the delivery function, two of the library's
	for id, f := range s.Resources("AWS::Lambda::Function") {
		group := `CustomResourceLogs`
		if strings.HasPrefix(id, "NotificationFormatter") {
			group = `NotificationFormatterLogs`
		}
		if strings.HasPrefix(id, "DeliveryFunction") {
			group = `DeliveryLogs`
		}
		assert.Regexp(t, `^\{"LogGroup":\{"Ref":"`+group+`[0-9A-F]{8}"\}\}$`, toJSON(f["Properties"].(object)["LoggingConfig"]), id)
	}
	// CloudWatch Logs may use the keys for this account's log groups only.
	logKeys := 0
	for id, k := range s.Resources("AWS::KMS::Key") {
		text := toJSON(k)
		if strings.Contains(text, `logs.`) {
			logKeys++
			assert.Contains(t, text, `"ArnLike":{"kms:EncryptionContext:aws:logs:arn":`, id)
		}
	}
	assert.Equal(t, 2, logKeys, "the artifact key (build, checks, custom resources, delivery) and the notification key (formatter)")
}

// TestFleetReadsArtifactsOnly checks the instance role: read and decrypt, never write, nothing on
// every resource.
func TestFleetReadsArtifactsOnly(t *testing.T) {
	lines, err := synth(t, "default").Permissions("Fleet/InstanceRole")
	require.NoError(t, err)
	text := strings.Join(lines, "\n")
	for _, write := range []string{"s3:PutObject", "s3:DeleteObject", "kms:Encrypt", "kms:GenerateDataKey", " on *"} {
		assert.NotContains(t, text, write)
	}
	assert.Contains(t, text, "Allow kms:Decrypt, kms:DescribeKey on ${Pipeline/ArtifactKey.Arn}")
	assert.Contains(t, text, "s3:GetObject*")
}

func TestInstancesTarget(t *testing.T) {
	s := synth(t, "instances")
	// Exactly, but for the generated names: these tags, rolled back on failure and on a stop (no
	// alarms to watch).
	s.Has(t, "AWS::CodeDeploy::DeploymentGroup", exact(object{
		"ApplicationName":           ref("InstancesApplication"),
		"ServiceRoleArn":            getAtt("InstancesDeploymentGroupRole"),
		"Ec2TagSet":                 object{"Ec2TagSetList": []any{object{"Ec2TagGroup": []any{object{"Key": "Env", "Value": "prod", "Type": "KEY_AND_VALUE"}}}}},
		"DeploymentConfigName":      "CodeDeployDefault.AllAtOnce",
		"AutoRollbackConfiguration": object{"Enabled": true, "Events": []any{"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"}},
		"AlarmConfiguration":        object{"Enabled": false},
	}))
	s.Count(t, "AWS::AutoScaling::AutoScalingGroup", 0)
	s.Count(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", 0)
	policy := toJSON(s.Props("AWS::IAM::ManagedPolicy"))
	for _, want := range []string{"s3:GetObject", "kms:Decrypt"} {
		assert.Contains(t, policy, want)
	}
	assert.NotContains(t, policy, "s3:PutObject")
	assert.Contains(t, s.JSON["Outputs"], "InstancePolicyArn")
	assert.NotContains(t, s.JSON["Outputs"], "AppUrl")
}

func TestBeanstalkTarget(t *testing.T) {
	s := synth(t, "beanstalk")
	s.Has(t, "AWS::CodePipeline::Pipeline", object{"Stages": arrayWith(objectLike(object{"Name": "Deploy", "Actions": arrayWith(objectLike(object{
		"ActionTypeId":  object{"Category": "Deploy", "Owner": "AWS", "Provider": "ElasticBeanstalk", "Version": "1"},
		"Configuration": object{"ApplicationName": "tutorial", "EnvironmentName": "tutorial-env"},
	}))}))})
	s.Count(t, "AWS::CodeDeploy::DeploymentGroup", 0)
	s.Count(t, "AWS::EC2::VPC", 0)
	// No CodeDeploy feed without deployment groups: the source trigger, the pipeline feed, the
	// pull request checks and the delivery metrics' four (no alarms to watch).
	s.Count(t, "AWS::Events::Rule", 7)
	// Only the pipeline's role may assume the action role with Beanstalk administrator rights, and
	// the role reads and decrypts the artifacts CodePipeline hands to Beanstalk.
	s.Has(t, "AWS::IAM::Role", object{
		"AssumeRolePolicyDocument": object{"Statement": []any{objectLike(object{"Principal": object{"AWS": getAtt("PipelineRole")}})}},
		"ManagedPolicyArns":        arrayWith(exact(object{"Fn::Join": []any{"", arrayWith(":iam::aws:policy/AdministratorAccess-AWSElasticBeanstalk")}})),
	})
	for id, r := range s.Resources("AWS::IAM::Role") {
		assert.NotContains(t, toJSON(r), ":root", "%s: no role trusts the whole account for Beanstalk", id)
	}
	var beanstalk string
	for id, p := range s.Resources("AWS::IAM::Policy") {
		if strings.HasPrefix(id, "BeanstalkActionRole") {
			beanstalk = toJSON(p)
		}
	}
	assert.Contains(t, beanstalk, "kms:Decrypt")
	assert.Contains(t, beanstalk, "s3:GetObject*")
}

func TestPullRequestChecks(t *testing.T) {
	s := synth(t, "default")
	// The check runs its own buildspec on the pull request's commit of this repository: the
	// checks, then the report, whatever they gave.
	id, ok := s.LogicalID("PullRequestChecks/Project")
	require.True(t, ok)
	source := maps.Clone(s.JSON["Resources"].(object)[id].(object)["Properties"].(object)["Source"].(object))
	var spec struct {
		Phases map[string]struct{ Commands []string } `json:"phases"`
	}
	require.NoError(t, json.Unmarshal([]byte(source["BuildSpec"].(string)), &spec))
	assert.Equal(t, []string{"go vet ./...", "go test ./..."}, spec.Phases["build"].Commands)
	require.Len(t, spec.Phases["post_build"].Commands, 1)
	assert.Contains(t, spec.Phases["post_build"].Commands[0], "update-pull-request-approval-state")
	delete(source, "BuildSpec")
	assert.Equal(t, object{"Type": "CODECOMMIT", "Location": object{"Fn::GetAtt": []any{"SourceRepository74575110", "CloneUrlHttp"}}}, source)
	s.Has(t, "AWS::CodeBuild::Project", object{
		"Source":        objectLike(object{"Type": "CODECOMMIT"}),
		"Environment":   objectLike(object{"PrivilegedMode": false}),
		"EncryptionKey": anyValue(),
		"LogsConfig":    object{"CloudWatchLogs": objectLike(object{"Status": "ENABLED"})},
	})
	s.Has(t, "AWS::Events::Rule", object{
		"EventPattern": objectLike(object{"source": []any{"aws.codecommit"}, "detail": object{"event": []any{"pullRequestCreated", "pullRequestSourceBranchUpdated"}}}),
		"Targets": []any{objectLike(object{
			"InputTransformer": objectLike(object{"InputTemplate": assertions.Match_StringLikeRegexp(jsii.String(`"sourceVersion":<detail-sourceCommit>`))}),
			"DeadLetterConfig": anyValue(), "RetryPolicy": object{"MaximumRetryAttempts": 185.0, "MaximumEventAgeInSeconds": 86400.0},
		})},
	})
	var prPolicy string
	for id, p := range s.Resources("AWS::IAM::Policy") {
		if strings.HasPrefix(id, "PullRequestChecksProjectRole") {
			prPolicy = toJSON(p)
		}
	}
	for _, want := range []string{"codecommit:GitPull", "codecommit:PostCommentForPullRequest", "codecommit:UpdatePullRequestApprovalState"} {
		assert.Contains(t, prPolicy, want)
	}
	for _, never := range []string{"codecommit:GitPush", "codecommit:MergePullRequest", "codepipeline:", "s3:PutObject"} {
		assert.NotContains(t, prPolicy, never, "the check may read, comment and approve, nothing else")
	}
	var rules []string
	for id := range s.Resources("Custom::AWS") {
		if strings.HasPrefix(id, "PullRequestChecksApprovalRule") {
			rules = append(rules, id)
		}
	}
	assert.Len(t, rules, 2, "the approval rule template and its association")
	absent(t, synth(t, "instances"), "pullRequestCreated", "pullRequestChecks=false")
	// The branch it protects: TestApprovalRuleProtectsTheBranch.
}

func TestRegionalStackLogsItsLoadBalancer(t *testing.T) {
	s := synth(t, "regional")
	s.Has(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", object{"LoadBalancerAttributes": arrayWith(exact(object{"Key": "access_logs.s3.enabled", "Value": "true"}))})
	absent(t, s, "AwsSolutions-ELB2", "no ELB2 suppression once the region is known")
}

func TestFleetSettings(t *testing.T) {
	s := synth(t, "regional")
	s.Has(t, "AWS::AutoScaling::AutoScalingGroup", object{"MinSize": "3", "MaxSize": "3"})
	s.Has(t, "AWS::EC2::LaunchTemplate", object{"LaunchTemplateData": objectLike(object{"InstanceType": "t3.small"})})
	s.Has(t, "AWS::CodeDeploy::DeploymentGroup", object{"DeploymentConfigName": "CodeDeployDefault.HalfAtATime"})
}

// TestNewRepositoryNameAndBranch: a new repository takes its name, and its first commit, the
// trigger and the merge protection take the branch.
func TestNewRepositoryNameAndBranch(t *testing.T) {
	s := synth(t, "regional")
	s.Has(t, "AWS::CodeCommit::Repository", object{"RepositoryName": "shop", "Code": objectLike(object{"BranchName": "develop"})})
	s.Has(t, "AWS::Events::Rule", object{"EventPattern": objectLike(object{"detail": objectLike(object{"referenceName": []any{"develop"}})})})
	s.Has(t, "AWS::CodePipeline::Pipeline", object{"Stages": arrayWith(objectLike(object{"Name": "Source", "Actions": arrayWith(objectLike(object{
		"Configuration": objectLike(object{"BranchName": "develop"}),
	}))}))})
	create, _ := approvalRule(t, s)
	assert.Equal(t, []any{"refs/heads/develop"}, create["DestinationReferences"], "pull requests into develop need a passing check")
}
