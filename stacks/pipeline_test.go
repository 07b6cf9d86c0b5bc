package stacks_test

import (
	"encoding/json"
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

func TestMain(m *testing.M) { cdktest.Main(m) }

type obj = map[string]any

var (
	obj_ = cdktest.Obj
	arr  = cdktest.Arr
	any_ = assertions.Match_AnyValue
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
	stack := stacks.NewPipelineStack(cdktest.NewApp(), "Test", props)
	synthesized[name] = cdktest.Synth(t, stack)
	return synthesized[name]
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
		names = append(names, st.(obj)["Name"].(string))
	}
	return names
}

func TestDefaultPipeline(t *testing.T) {
	s := synth(t, "default")
	assert.Equal(t, []string{"Source", "Build", "Approve", "Deploy"}, stageNames(s))
	s.Has(t, "AWS::CodePipeline::Pipeline", obj{"PipelineType": "V2", "ExecutionMode": "SUPERSEDED", "RestartExecutionOnUpdate": false})
	s.Has(t, "AWS::CodePipeline::Pipeline", obj{"Stages": arr(obj_(obj{"Name": "Source", "Actions": arr(obj_(obj{
		"ActionTypeId":    obj{"Category": "Source", "Owner": "AWS", "Provider": "CodeCommit", "Version": "1"},
		"Configuration":   obj{"RepositoryName": any_(), "BranchName": "main", "PollForSourceChanges": false},
		"Namespace":       "SourceVariables",
		"OutputArtifacts": []any{obj{"Name": "Source"}},
	}))}))})
	// Pushes to main start the pipeline through EventBridge, not polling.
	s.Has(t, "AWS::Events::Rule", obj{
		"EventPattern": obj{"source": []any{"aws.codecommit"}, "detail": obj_(obj{"referenceName": []any{"main"}})},
		"Targets":      arr(obj_(obj{"Arn": any_()})),
	})
	s.Has(t, "AWS::CodeCommit::Repository", obj{"RepositoryName": "sample-app", "Code": obj{"BranchName": "main", "S3": any_()}})
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
	s.HasResource(t, "AWS::CodeCommit::Repository", obj{"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"})
	assert.True(t, *s.Stack.TerminationProtection())
	for _, out := range []string{"RepositoryCloneUrlHttp", "RepositoryCloneUrlGrc", "PipelineConsoleUrl", "AppUrl"} {
		assert.Contains(t, s.JSON["Outputs"], out)
	}
	assert.NotContains(t, s.JSON["Outputs"], "InstancePolicyArn")
}

func TestDefaultBuild(t *testing.T) {
	s := synth(t, "default")
	s.Has(t, "AWS::CodeBuild::Project", obj{
		"Environment": obj_(obj{
			"Image": "aws/codebuild/standard:7.0", "PrivilegedMode": false, "Type": "LINUX_CONTAINER",
			"EnvironmentVariables": arr(obj_(obj{"Name": "JUNIT_REPORT_GROUP", "Type": "PLAINTEXT", "Value": obj{"Fn::GetAtt": []any{any_(), "Arn"}}})),
		}),
		"Source":           obj{"Type": "CODEPIPELINE"},
		"TimeoutInMinutes": 20.0,
		"EncryptionKey":    obj{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^PipelineArtifactKey")), "Arn"}},
		"LogsConfig":       obj{"CloudWatchLogs": obj{"Status": "ENABLED", "GroupName": obj{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^BuildLogs"))}}},
		"Cache":            obj{"Type": "S3", "Location": any_()},
	})
	s.Has(t, "AWS::CodeBuild::ReportGroup", obj{"Type": "TEST"})
	s.Has(t, "AWS::Logs::LogGroup", obj{"RetentionInDays": 365.0, "KmsKeyId": any_()})
	// The buildspec names its report group through the variable the project sets.
	spec, err := os.ReadFile("../sample-app/buildspec.yml")
	require.NoError(t, err)
	assert.Contains(t, string(spec), "  $JUNIT_REPORT_GROUP:", "the form CodeBuild documents for a report group in a variable")
	assert.Contains(t, string(spec), "exported-variables:\n    # The manual approval links to this build, so approvers can read its tests first.\n    - BUILD_URL")
}

func TestArtifactStore(t *testing.T) {
	s := synth(t, "default")
	s.Has(t, "AWS::S3::Bucket", obj{
		"BucketEncryption": obj{"ServerSideEncryptionConfiguration": arr(obj_(obj{
			"ServerSideEncryptionByDefault": obj{"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": any_()}, "BucketKeyEnabled": true,
		}))},
		"PublicAccessBlockConfiguration": obj{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true},
		"VersioningConfiguration":        obj{"Status": "Enabled"},
		"LifecycleConfiguration": obj{"Rules": []any{obj{
			"Id": "ExpireReplacedVersions", "Status": "Enabled", "NoncurrentVersionExpiration": obj{"NoncurrentDays": 7.0},
			"AbortIncompleteMultipartUpload": obj{"DaysAfterInitiation": 1.0}, "ExpiredObjectDeleteMarker": true,
		}}},
		"LoggingConfiguration": obj{"DestinationBucketName": any_(), "LogFilePrefix": "artifact-bucket/"},
	})
	// Every bucket denies requests without TLS.
	s.Count(t, "AWS::S3::BucketPolicy", 2)
	for id, p := range s.Resources("AWS::S3::BucketPolicy") {
		assert.Contains(t, toJSON(p), `"aws:SecureTransport":"false"`, id)
	}
	// Control Tower CT.KMS.PR.1 and CT.KMS.PR.3: rotation, and grants only for AWS services.
	grantGuard := `{"Action":"kms:CreateGrant","Condition":{"BoolIfExists":{"aws:PrincipalIsAWSService":"false","kms:GrantIsForAWSResource":"false"}},"Effect":"Deny","Principal":{"AWS":"*"},"Resource":"*","Sid":"DenyGrantsExceptForAWSServices"}`
	for id, k := range s.Resources("AWS::KMS::Key") {
		assert.Equal(t, true, k["Properties"].(obj)["EnableKeyRotation"], id)
		assert.Equal(t, "RetainExceptOnCreate", k["DeletionPolicy"], id)
		assert.Contains(t, toJSON(k["Properties"].(obj)["KeyPolicy"]), grantGuard, id)
	}
	// CT.S3.PR.4: object events reach EventBridge, without a custom resource.
	for id, b := range s.Resources("AWS::S3::Bucket") {
		assert.Equal(t, "RetainExceptOnCreate", b["DeletionPolicy"], id)
		assert.Equal(t, obj{"EventBridgeConfiguration": obj{"EventBridgeEnabled": true}}, b["Properties"].(obj)["NotificationConfiguration"], id)
	}
	s.Count(t, "Custom::S3BucketNotifications", 0)
	// A failed first deploy must not block its retry: nothing survives the rollback of the create
	// that made it.
	for id, r := range s.JSON["Resources"].(obj) {
		assert.NotEqual(t, "Retain", r.(obj)["DeletionPolicy"], id)
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
	s.Has(t, "AWS::Lambda::Function", obj{"Environment": obj{"Variables": obj_(obj{"STAGES": "Deploy", "PIPELINE": obj{"Ref": any_()}})}})
	s.Has(t, "AWS::DynamoDB::Table", obj{"SSESpecification": obj_(obj{"KMSMasterKeyId": getAtt("PipelineArtifactKey")})})
	s.Has(t, "AWS::Lambda::EventInvokeConfig", obj{"FunctionName": obj{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^DeliveryFunction"))},
		"DestinationConfig": obj{"OnFailure": obj{"Destination": getAtt("NotificationRuleDeadLetters")}}})
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
	s.Has(t, "AWS::CodePipeline::Pipeline", obj{"Stages": arr(obj_(obj{"Name": "Source", "Actions": arr(obj_(obj{
		"Configuration": obj{"RepositoryName": "legacy-app", "BranchName": "release/1", "PollForSourceChanges": false},
	}))}))})
	s.Has(t, "AWS::Events::Rule", obj{"EventPattern": obj_(obj{
		"source": []any{"aws.codecommit"}, "resources": arr(obj_(obj{"Fn::Join": any_()})),
		"detail": obj_(obj{"referenceName": []any{"release/1"}}),
	})})
	assert.False(t, *s.Stack.TerminationProtection())
	s.Has(t, "AWS::CodePipeline::Pipeline", obj{"ExecutionMode": "QUEUED"})
}

func TestContinuousDeploymentHasNoApproval(t *testing.T) {
	s := synth(t, "instances")
	assert.Equal(t, []string{"Source", "Build", "Deploy"}, stageNames(s))
	absent(t, s, "codepipeline:PutApprovalResult", "approval permission")
}

func TestApprovalCarriesContext(t *testing.T) {
	s := synth(t, "default")
	s.Has(t, "AWS::CodePipeline::Pipeline", obj{"Stages": arr(obj_(obj{"Name": "Approve", "Actions": arr(obj_(obj{
		"ActionTypeId": obj{"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"},
		"Configuration": obj_(obj{
			"CustomData":         assertions.Match_StringLikeRegexp(jsii.String(`#\{SourceVariables\.CommitId\}[\s\S]*#\{SourceVariables\.CommitMessage\}[\s\S]*#\{BuildVariables\.BUILD_URL\}`)),
			"ExternalEntityLink": obj{"Fn::Join": arr("", arr("http://", obj{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^FleetLoadBalancer")), "DNSName"}}))},
		}),
	}))}))})
	// Operators may answer exactly this approval.
	assert.Contains(t, s.Text(), `"/Approve/Approve"`)
	// With approvers, requests go to an encrypted topic they are subscribed to.
	b := synth(t, "beanstalk")
	b.Has(t, "AWS::SNS::Subscription", obj{"Protocol": "email", "Endpoint": "lead@example.com", "TopicArn": obj{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^ApprovalTopic"))},
		"RedrivePolicy": obj{"deadLetterTargetArn": getAtt("NotificationSubscriptionDeadLetters")}})
	b.Has(t, "AWS::SNS::Topic", obj{"DisplayName": "Pipeline approvals", "KmsMasterKeyId": any_()})
	b.Has(t, "AWS::CodePipeline::Pipeline", obj{"Stages": arr(obj_(obj{"Name": "Approve", "Actions": arr(obj_(obj{
		"Configuration": obj_(obj{"NotificationArn": obj{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^ApprovalTopic"))}}),
	}))}))})
}

func TestFleet(t *testing.T) {
	s := synth(t, "default")
	// EC2 health checks: no replacement loop before the first release.
	s.Has(t, "AWS::AutoScaling::AutoScalingGroup", obj{"MinSize": "2", "MaxSize": "2", "HealthCheckType": "EC2"})
	s.Has(t, "AWS::EC2::LaunchTemplate", obj{"LaunchTemplateData": obj_(obj{
		"InstanceType":        "t3.micro",
		"MetadataOptions":     obj{"HttpTokens": "required"},
		"BlockDeviceMappings": arr(obj_(obj{"Ebs": obj_(obj{"Encrypted": true})})),
		"UserData":            any_(),
	})})
	lt := s.Props("AWS::EC2::LaunchTemplate")["LaunchTemplateData"].(obj)
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
		assert.Equal(t, obj{"ResourceSignal": obj{"Count": 2.0, "Timeout": "PT15M"}}, asg["CreationPolicy"])
		assert.Contains(t, userData, "--resource "+id)
		for _, p := range s.Resources("AWS::CodePipeline::Pipeline") {
			assert.Contains(t, p["DependsOn"], id)
		}
	}
	absent(t, s, `"FromPort":22`, "SSH port")
	s.Count(t, "AWS::EC2::NatGateway", 0)
	s.Count(t, "AWS::EC2::Subnet", 2)
	s.Has(t, "AWS::ElasticLoadBalancingV2::TargetGroup", obj{"Port": 8080.0, "HealthCheckPath": "/health"})
	s.Has(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", obj{"Scheme": "internet-facing"})
	s.Has(t, "AWS::CodeDeploy::DeploymentGroup", obj{
		"DeploymentConfigName":      "CodeDeployDefault.OneAtATime",
		"AutoRollbackConfiguration": obj{"Enabled": true, "Events": []any{"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_STOP_ON_ALARM"}},
		"AlarmConfiguration":        obj{"Enabled": true, "Alarms": []any{obj{"Name": any_()}, obj{"Name": any_()}}},
		"LoadBalancerInfo":          obj{"TargetGroupInfoList": arr(obj_(obj{"Name": any_()}))},
		"AutoScalingGroups":         []any{any_()},
	})
	// Alarms that would fire before the first release would stop every release.
	s.Has(t, "AWS::CloudWatch::Alarm", obj{"MetricName": "HTTPCode_Target_5XX_Count", "Namespace": "AWS/ApplicationELB", "TreatMissingData": "notBreaching"})
	s.Has(t, "AWS::CloudWatch::Alarm", obj{"MetricName": "TargetResponseTime", "ExtendedStatistic": "p99", "TreatMissingData": "notBreaching"})
	absent(t, s, "UnHealthyHostCount", "an unhealthy-host alarm")
	s.Has(t, "AWS::EC2::FlowLog", obj{"LogDestinationType": "s3"})
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
	s.Has(t, "AWS::Logs::LogGroup", obj{"RetentionInDays": 365.0, "KmsKeyId": any_()})
	for id, f := range s.Resources("AWS::Lambda::Function") {
		group := `CustomResourceLogs`
		if strings.HasPrefix(id, "NotificationFormatter") {
			group = `NotificationFormatterLogs`
		}
		if strings.HasPrefix(id, "DeliveryFunction") {
			group = `DeliveryLogs`
		}
		assert.Regexp(t, `^\{"LogGroup":\{"Ref":"`+group+`[0-9A-F]{8}"\}\}$`, toJSON(f["Properties"].(obj)["LoggingConfig"]), id)
	}
	// CloudWatch Logs may use the keys for this account's log groups only.
	for id, k := range s.Resources("AWS::KMS::Key") {
		text := toJSON(k)
		if strings.Contains(text, `logs.`) {
			assert.Contains(t, text, `"ArnLike":{"kms:EncryptionContext:aws:logs:arn":`, id)
		}
	}
}

// TestFleetReadsArtifactsOnly checks the instance role: read and decrypt, never write.
func TestFleetReadsArtifactsOnly(t *testing.T) {
	s := synth(t, "default")
	for id, p := range s.Resources("AWS::IAM::Policy") {
		if !strings.HasPrefix(id, "FleetInstanceRole") {
			continue
		}
		text := toJSON(p)
		for _, write := range []string{"s3:PutObject", "s3:DeleteObject", "kms:Encrypt", "kms:GenerateDataKey", `"*"`} {
			assert.NotContains(t, text, write, id)
		}
		assert.Contains(t, text, "kms:Decrypt", id)
		assert.Contains(t, text, "s3:GetObject", id)
	}
}

func TestInstancesTarget(t *testing.T) {
	s := synth(t, "instances")
	s.Has(t, "AWS::CodeDeploy::DeploymentGroup", obj{
		"Ec2TagSet":                 obj{"Ec2TagSetList": []any{obj{"Ec2TagGroup": []any{obj{"Key": "Env", "Value": "prod", "Type": "KEY_AND_VALUE"}}}}},
		"DeploymentConfigName":      "CodeDeployDefault.AllAtOnce",
		"AutoRollbackConfiguration": obj{"Enabled": true, "Events": []any{"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"}},
	})
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
	s.Has(t, "AWS::CodePipeline::Pipeline", obj{"Stages": arr(obj_(obj{"Name": "Deploy", "Actions": arr(obj_(obj{
		"ActionTypeId":  obj{"Category": "Deploy", "Owner": "AWS", "Provider": "ElasticBeanstalk", "Version": "1"},
		"Configuration": obj{"ApplicationName": "tutorial", "EnvironmentName": "tutorial-env"},
	}))}))})
	s.Count(t, "AWS::CodeDeploy::DeploymentGroup", 0)
	s.Count(t, "AWS::EC2::VPC", 0)
	// No CodeDeploy feed without deployment groups: the source trigger, the pipeline feed, the
	// pull request checks and the delivery metrics' four (no alarms to watch).
	s.Count(t, "AWS::Events::Rule", 7)
	// Only the pipeline's role may assume the action role with Beanstalk administrator rights, and
	// the role reads and decrypts the artifacts CodePipeline hands to Beanstalk.
	s.Has(t, "AWS::IAM::Role", obj{
		"AssumeRolePolicyDocument": obj{"Statement": []any{obj_(obj{"Principal": obj{"AWS": getAtt("PipelineRole")}})}},
		"ManagedPolicyArns":        arr(obj{"Fn::Join": []any{"", arr(":iam::aws:policy/AdministratorAccess-AWSElasticBeanstalk")}}),
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
	s.Has(t, "AWS::CodeBuild::Project", obj{
		"Source":        obj_(obj{"Type": "CODECOMMIT"}),
		"Environment":   obj_(obj{"PrivilegedMode": false}),
		"EncryptionKey": any_(),
		"LogsConfig":    obj{"CloudWatchLogs": obj_(obj{"Status": "ENABLED"})},
	})
	s.Has(t, "AWS::Events::Rule", obj{
		"EventPattern": obj_(obj{"source": []any{"aws.codecommit"}, "detail": obj{"event": []any{"pullRequestCreated", "pullRequestSourceBranchUpdated"}}}),
		"Targets": []any{obj_(obj{
			"InputTransformer": obj_(obj{"InputTemplate": assertions.Match_StringLikeRegexp(jsii.String(`"sourceVersion":<detail-sourceCommit>`))}),
			"DeadLetterConfig": any_(), "RetryPolicy": any_(),
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
	assert.True(t, strings.Contains(s.Text(), `refs/heads/main`), "the template protects the pipeline's branch")
}

func TestRegionalStackLogsItsLoadBalancer(t *testing.T) {
	s := synth(t, "regional")
	s.Has(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", obj{"LoadBalancerAttributes": arr(obj{"Key": "access_logs.s3.enabled", "Value": "true"})})
	absent(t, s, "AwsSolutions-ELB2", "no ELB2 suppression once the region is known")
}

func TestFleetSettings(t *testing.T) {
	s := synth(t, "regional")
	s.Has(t, "AWS::AutoScaling::AutoScalingGroup", obj{"MinSize": "3", "MaxSize": "3"})
	s.Has(t, "AWS::EC2::LaunchTemplate", obj{"LaunchTemplateData": obj_(obj{"InstanceType": "t3.small"})})
	s.Has(t, "AWS::CodeDeploy::DeploymentGroup", obj{"DeploymentConfigName": "CodeDeployDefault.HalfAtATime"})
}

// TestNewRepositoryNameAndBranch: a new repository takes its name, and its first commit, the
// trigger and the merge protection take the branch.
func TestNewRepositoryNameAndBranch(t *testing.T) {
	s := synth(t, "regional")
	s.Has(t, "AWS::CodeCommit::Repository", obj{"RepositoryName": "shop", "Code": obj_(obj{"BranchName": "develop"})})
	s.Has(t, "AWS::Events::Rule", obj{"EventPattern": obj_(obj{"detail": obj_(obj{"referenceName": []any{"develop"}})})})
	s.Has(t, "AWS::CodePipeline::Pipeline", obj{"Stages": arr(obj_(obj{"Name": "Source", "Actions": arr(obj_(obj{
		"Configuration": obj_(obj{"BranchName": "develop"}),
	}))}))})
	assert.True(t, strings.Contains(s.Text(), `refs/heads/develop`), "pull requests into develop need a passing check")
}
