package stacks_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/constructs/pipeline"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
	"github.com/pipekit/cdk-pipeline/settings"
	"github.com/pipekit/cdk-pipeline/stacks"
)

// parsed reads settings as the app does from CDK context.
func parsed(t *testing.T, ctx map[string]any) settings.Settings {
	t.Helper()
	s, err := settings.Parse(ctx)
	require.NoError(t, err)
	return s
}

// stagesOf returns the pipeline's stages by name.
func stagesOf(s *cdktest.Synthesized) map[string]object {
	stages := map[string]object{}
	for _, st := range s.Props("AWS::CodePipeline::Pipeline")["Stages"].([]any) {
		stages[st.(object)["Name"].(string)] = st.(object)
	}
	return stages
}

// TestEnvironments: beta then prod in the pipeline's account, each its own deploy stage, fleet,
// deployment group and alarms; prod's approval right before it, naming it and linking to beta;
// the window and the bake on prod only; rollback on both.
var environmentsConfig = map[string]any{
	"deployWindow": "cron(* 9-16 ? * MON-FRI *)", "deployWindowTimeZone": "Europe/Paris", "bakeMinutes": "30",
	"approverEmails": `["lead@example.com"]`,
	"environments": `[{"name":"beta","fleetSize":1,"approval":false,"bakeMinutes":0,"deployWindow":"","deploymentConfig":"AllAtOnce"},
		{"name":"prod","fleetSize":3,"deploymentConfig":"HalfAtATime"}]`,
}

func TestEnvironments(t *testing.T) {
	s := cdktest.Synth(t, stacks.NewPipelineStack(cdktest.NewApp(), jsii.String("Envs"), &stacks.Props{Settings: parsed(t, environmentsConfig)}))
	assert.Empty(t, s.NagErrors)
	assert.Empty(t, suppressionProblems(s))
	assert.Equal(t, []string{"Source", "Build", "Deploy-beta", "Approve-prod", "Deploy-prod"}, stageNames(s))
	stages := stagesOf(s)
	beta, prod := stages["Deploy-beta"], stages["Deploy-prod"]
	assert.Equal(t, object{"Result": "ROLLBACK"}, beta["OnFailure"], "a failed stage rolls back")
	assert.NotContains(t, beta, "OnSuccess", "beta does not bake")
	assert.NotContains(t, beta, "BeforeEntry", "beta's window is empty")
	assert.Equal(t, object{"Result": "ROLLBACK"}, prod["OnFailure"])
	assert.Equal(t, `{"Conditions":[{"Result":"FAIL","Rules":[{"Configuration":{"Cron":"* * 9-16 ? * MON-FRI *","TimeZone":"Europe/Paris"},"Name":"Deploy-prod-Window","RuleTypeId":{"Category":"Rule","Owner":"AWS","Provider":"DeploymentWindow","Version":"1"}}]}]}`,
		toJSON(prod["BeforeEntry"]), "the window, in the rule's own form")
	bake := toJSON(prod["OnSuccess"])
	assert.Contains(t, bake, `"Result":"ROLLBACK"`)
	assert.Contains(t, bake, `"WaitTime":"30"`)
	assert.Equal(t, 2, strings.Count(bake, `"Provider":"CloudWatchAlarm"`), "both of prod's alarms")
	assert.Contains(t, bake, `"Ref":"FleetprodServerErrors`)

	s.Count(t, "AWS::AutoScaling::AutoScalingGroup", 2)
	s.Count(t, "AWS::CodeDeploy::DeploymentGroup", 2)
	s.Count(t, "AWS::CloudWatch::Alarm", 4)
	s.Has(t, "AWS::AutoScaling::AutoScalingGroup", object{"MinSize": "1", "MaxSize": "1"})
	s.Has(t, "AWS::AutoScaling::AutoScalingGroup", object{"MinSize": "3", "MaxSize": "3"})
	s.Has(t, "AWS::CodeDeploy::DeploymentGroup", object{"DeploymentConfigName": "CodeDeployDefault.AllAtOnce"})
	s.Has(t, "AWS::CodeDeploy::DeploymentGroup", object{"DeploymentConfigName": "CodeDeployDefault.HalfAtATime"})
	// The approval names what it guards and points at beta, which runs the release already.
	approve := toJSON(stages["Approve-prod"])
	assert.Contains(t, approve, "Approve to release this change to prod.")
	assert.Contains(t, approve, "The release before it runs at http://")
	assert.Contains(t, approve, "FleetbetaLoadBalancer")
	assert.Contains(t, permissionsOf(t, s, "Operators/Group"), "Allow codepipeline:PutApprovalResult on "+in("codepipeline", "${Pipeline/Pipeline}/Approve-prod/Approve"), "operators may answer it")
	// Every environment's deployments notify; each has its output.
	s.Has(t, "AWS::Events::Rule", object{"EventPattern": objectLike(object{"detail": objectLike(object{
		"deploymentGroup": []any{ref("FleetbetaDeploymentGroup"), ref("FleetprodDeploymentGroup")},
	})})})
	s.Has(t, "AWS::Lambda::Function", object{"Environment": object{"Variables": objectLike(object{"STAGES": "Deploy-beta,Deploy-prod"})}})
	assert.Contains(t, s.JSON["Outputs"], "AppUrlBeta")
	assert.Contains(t, s.JSON["Outputs"], "AppUrlProd")
	assert.NotContains(t, s.JSON["Outputs"], "AppUrl")
	// The pipeline role reads prod's alarms for the bake.
	assert.Contains(t, permissionsOf(t, s, "Pipeline/Pipeline/Role"), "Allow cloudwatch:DescribeAlarmHistory, cloudwatch:DescribeAlarms on ${Fleet-prod/ServerErrors.Arn}, ${Fleet-prod/SlowResponses.Arn}")
	for _, p := range s.Resources("AWS::CodePipeline::Pipeline") {
		deps := toJSON(p["DependsOn"])
		assert.Contains(t, deps, "FleetbetaInstancesASG")
		assert.Contains(t, deps, "FleetprodInstancesASG")
	}
}

// TestDefaultHasNoEnvironmentIDs: without an environments list, the one environment keeps the
// stage names and construct ids the stack always had.
func TestDefaultHasNoEnvironmentIDs(t *testing.T) {
	s := synth(t, "default")
	assert.Equal(t, []string{"Source", "Build", "Approve", "Deploy"}, stageNames(s))
	assert.Contains(t, s.JSON["Outputs"], "AppUrl")
	assert.Equal(t, object{"Result": "ROLLBACK"}, stagesOf(s)["Deploy"]["OnFailure"])
	assert.Contains(t, toJSON(stagesOf(s)["Deploy"]["OnSuccess"]), `"WaitTime":"10"`, "the default bake")
	assert.NotContains(t, stagesOf(synth(t, "instances"))["Deploy"], "OnSuccess", "instances have no alarms to bake with")
	assert.NotContains(t, stagesOf(synth(t, "instances"))["Deploy"], "OnFailure", "stageRollback=false")
}

// TestAccountsAndRegions: the pipeline in one account and region; prod in another account, dr in
// another region, lab in both. Each remote environment gets a stack of its own, deployed before
// the pipeline's, with names the pipeline can know; the pipeline reaches them through
// CodePipeline's cross-account and cross-region support.
func TestAccountsAndRegions(t *testing.T) {
	if cdktest.Offloaded(t) {
		return
	}
	ctx := map[string]any{"bakeMinutes": "5", "environments": `[{"name":"beta","fleetSize":1,"approval":false},
		{"name":"prod","account":"` + cdktest.OtherAccount + `"},
		{"name":"dr","region":"us-east-1","fleetSize":1,"approval":false},
		{"name":"lab","account":"` + cdktest.OtherAccount + `","region":"us-east-1","deployTarget":"instances","instanceTag":"Env=lab","approval":false}]`}
	s := parsed(t, ctx)
	require.NoError(t, s.CheckEnvironments(cdktest.Account, "eu-west-1"))
	assert.Error(t, s.CheckEnvironments("", ""), "cross-account environments need the pipeline's account")
	assert.PanicsWithError(t, s.CheckEnvironments("", "").Error(), func() {
		stacks.NewPipelineStack(cdktest.NewApp(), jsii.String("Agnostic"), &stacks.Props{Settings: s})
	}, "a library user gets the settings' words, not a jsii trace")
	app := cdktest.NewApp()
	pipelineStack := stacks.NewPipelineStack(app, jsii.String("Multi"), &stacks.Props{Settings: s, StackProps: awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String(cdktest.Account), Region: jsii.String("eu-west-1")},
	}})
	byName := stacksByName(app)
	prodStack, drStack, labStack, storeStack := byName["Multi-prod"], byName["Multi-dr"], byName["Multi-lab"], byName["Multi-replication-us-east-1"]
	require.NotNil(t, prodStack)
	require.NotNil(t, drStack)
	require.NotNil(t, labStack)
	require.NotNil(t, storeStack, "us-east-1's replication store has a stack of its own")
	assert.Len(t, byName, 5, "no stack for eu-west-1: the pipeline's own region uses the artifact bucket")
	assert.Equal(t, cdktest.OtherAccount, *prodStack.Account())
	assert.Equal(t, "us-east-1", *drStack.Region())
	assert.Equal(t, []string{cdktest.OtherAccount, "us-east-1"}, []string{*labStack.Account(), *labStack.Region()})
	assert.Equal(t, []string{cdktest.Account, "us-east-1"}, []string{*storeStack.Account(), *storeStack.Region()}, "in the pipeline's account")

	all := cdktest.SynthAll(t, pipelineStack, prodStack, drStack, labStack, storeStack)
	p, prod, dr, lab, store := all[0], all[1], all[2], all[3], all[4]
	for _, s := range all {
		assert.Empty(t, s.NagErrors, *s.Stack.StackName())
	}
	assert.Empty(t, suppressionProblems(all...))

	assert.ElementsMatch(t, []string{"Multi-prod", "Multi-dr", "Multi-lab", "Multi-replication-us-east-1"}, dependencies(pipelineStack),
		"the targets and the store exist before the pipeline starts")
	assert.Empty(t, dependencies(storeStack), "the store's policies name account roots only, so it waits for no stack")
	assert.Empty(t, dependencies(labStack))

	// prod: named resources the pipeline can name, the action role CodePipeline assumes there,
	// and its deployment events forwarded to the pipeline's bus.
	prod.Has(t, "AWS::CodeDeploy::Application", object{"ApplicationName": "Multi-prod"})
	prod.Has(t, "AWS::CodeDeploy::DeploymentGroup", object{"DeploymentGroupName": "Multi-prod"})
	prod.Has(t, "AWS::CloudWatch::Alarm", object{"AlarmName": "Multi-prod-ServerErrors"})
	// The partition is a literal or a reference depending on how the app resolves it.
	prod.Has(t, "AWS::IAM::Role", object{"AssumeRolePolicyDocument": objectLike(object{"Statement": arrayWith(objectLike(object{
		"Principal": object{"AWS": anyValue()},
		"Condition": object{"ArnEquals": object{"aws:PrincipalArn": anyValue()}},
	}))})})
	// Whom the action role trusts, and what the instances read: the exact permissions below.
	prod.Has(t, "AWS::Events::Rule", object{
		"EventPattern": objectLike(object{"source": []any{"aws.codedeploy"}}),
		"Targets":      arrayWith(objectLike(object{"RoleArn": anyValue(), "DeadLetterConfig": anyValue()})),
	})
	assert.Regexp(t, `:events:eu-west-1:`+cdktest.Account+`:event-bus/default"`, prod.Text())
	// The pipeline: prod's action runs in prod's account, dr's in dr's region; the artifact bucket
	// and key admit prod's account; the bus takes prod's deployment events.
	stages := stagesOf(p)
	assert.Regexp(t, `"RoleArn":[^}]*:iam::`+cdktest.OtherAccount+`:role/`, toJSON(stages["Deploy-prod"]))
	assert.Contains(t, toJSON(stages["Deploy-dr"]), `"Region":"us-east-1"`)
	assert.Contains(t, toJSON(stages["Approve-prod"]), "FleetbetaLoadBalancer", "prod's approvers look at beta, in the pipeline's stack")
	assert.NotContains(t, stages["Deploy-prod"], "OnSuccess", "no bake with another account's alarms")
	assert.Contains(t, toJSON(stages["Deploy-beta"]["OnSuccess"]), `"WaitTime":"5"`)
	assert.Regexp(t, `"AWS":[^}]*:iam::`+cdktest.OtherAccount+`:root"`, p.Text())
	p.Has(t, "AWS::Events::EventBusPolicy", object{"EventBusName": "default", "Statement": objectLike(object{"Action": "events:PutEvents"})})
	p.Has(t, "AWS::Events::Rule", object{"EventPattern": objectLike(object{"detail": objectLike(object{
		"deploymentGroup": arrayWith("Multi-prod", "Multi-dr", "Multi-lab-instances"),
	})})})
	// dr bakes with its alarms in us-east-1, named, as the pipeline's rules refer to them.
	drBake := toJSON(stages["Deploy-dr"]["OnSuccess"])
	assert.Contains(t, drBake, `"AlarmName":"Multi-dr-ServerErrors"`)
	assert.Contains(t, drBake, `"Region":"us-east-1"`)
	// The pipeline role reads them: its exact permissions below.
	assert.NotContains(t, stages["Deploy-lab"], "OnSuccess", "existing instances have no alarms")

	// us-east-1's store: the bucket and key the pipeline names in its artifact stores, hardened like
	// the artifact bucket, admitting lab's account by its root and naming no role of another stack.
	bucketName := pipeline.ReplicationBucketName("Multi", cdktest.Account, "us-east-1")
	aliasARN := "arn:aws:kms:us-east-1:" + cdktest.Account + ":alias/Multi-replication"
	stores := p.Props("AWS::CodePipeline::Pipeline")["ArtifactStores"].([]any)
	require.Len(t, stores, 2)
	for _, st := range stores {
		if st.(object)["Region"] == "us-east-1" {
			assert.Equal(t, bucketName, st.(object)["ArtifactStore"].(object)["Location"])
			assert.Contains(t, toJSON(st.(object)["ArtifactStore"].(object)["EncryptionKey"]), strings.TrimPrefix(aliasARN, "arn:aws"))
		}
	}
	store.Has(t, "AWS::S3::Bucket", object{
		"BucketName":              bucketName,
		"LoggingConfiguration":    objectLike(object{"LogFilePrefix": "replication-bucket/"}),
		"VersioningConfiguration": object{"Status": "Enabled"},
		"LifecycleConfiguration":  objectLike(object{"Rules": arrayWith(objectLike(object{"Id": "ExpireReplacedVersions"}))}),
	})
	store.Has(t, "AWS::KMS::Key", object{"EnableKeyRotation": true, "KeyPolicy": objectLike(object{"Statement": arrayWith(objectLike(object{"Sid": "DenyGrantsExceptForAWSServices"}))})})
	store.Has(t, "AWS::KMS::Alias", object{"AliasName": "alias/Multi-replication"})
	for id, r := range store.Resources("AWS::KMS::Key") {
		assert.Equal(t, "RetainExceptOnCreate", r["DeletionPolicy"], id+": the replicated artifacts stay readable")
	}
	for _, typ := range []string{"AWS::S3::BucketPolicy", "AWS::KMS::Key"} {
		admitted := 0
		for id, r := range store.Resources(typ) {
			if strings.Contains(id, "AccessLogs") {
				continue // the access-log bucket takes only S3's log delivery
			}
			if regexp.MustCompile(`"AWS":[^}]*:iam::` + cdktest.OtherAccount + `:root"`).MatchString(toJSON(r)) {
				admitted++
			} else {
				t.Errorf("%s does not admit lab's account", id)
			}
		}
		assert.Equal(t, 1, admitted, "%s: the store's bucket and key admit lab's account", typ)
	}
	assert.NotRegexp(t, `:role/`, store.Text(), "and name no role, which might not exist yet")
	// The pipeline role, dr's instances and lab's action role reach the store by its name and its
	// key by alias (their exact permissions below); lab's instances by the policy they take on.
	assert.Equal(t, "multi-replication-us-east-1-660bd015", bucketName, "the name the permissions below spell out")
	lab.Has(t, "AWS::IAM::ManagedPolicy", object{"PolicyDocument": objectLike(object{"Statement": arrayWith(objectLike(object{
		"Action": []any{"s3:GetObject", "s3:GetObjectVersion"},
	}))})})
	// Who may do what across the environments, exactly (docs/testing.md). The fleets' instances
	// read the revisions where CodePipeline leaves them: dr's from the store, by its name and its
	// key's alias; prod's from the pipeline's bucket, by its generated name, decrypting with the
	// pipeline's account's keys.
	const (
		storeObjects = "arn:aws:s3:::multi-replication-us-east-1-660bd015, arn:aws:s3:::multi-replication-us-east-1-660bd015/*"
		storeKey     = `arn:aws:kms:us-east-1:` + cdktest.Account + `:key/* if {"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/Multi-replication"}}`
		prodBucket   = "arn:aws:s3:::multineartifactbucketad45752bc357176e0c15, arn:aws:s3:::multineartifactbucketad45752bc357176e0c15/*"
		// The pipeline's role alone, in the pipeline's account, may assume a remote action role.
		remoteTrust = `Trust sts:AssumeRole by AWS:arn:aws:iam::` + cdktest.Account + `:root if {"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::` + cdktest.Account + `:role/multiultipipelinerole7486becaf99f8313c032"}}`
	)
	forward := func(region, account string) []string {
		return []string{
			"Allow events:PutEvents on arn:aws:events:eu-west-1:" + cdktest.Account + ":event-bus/default",
			`Trust sts:AssumeRole by Service:events.amazonaws.com if {"ArnLike":{"aws:SourceArn":"arn:aws:events:` + region + `:` + account + `:rule/*"},"StringEquals":{"aws:SourceAccount":"${AWS::AccountId}"}}`,
		}
	}
	// The pipeline's role moves artifacts through its bucket and us-east-1's store, reads the
	// bake's alarms where they are, and assumes its action roles, the remote ones by name.
	p.HasPermissions(t, "Pipeline/Pipeline/Role",
		readWriteArtifacts+", "+storeObjects, encryptDecrypt,
		"Allow kms:Decrypt, kms:DescribeKey, kms:Encrypt, kms:GenerateDataKey*, kms:ReEncrypt* on "+storeKey,
		"Allow cloudwatch:DescribeAlarmHistory, cloudwatch:DescribeAlarms on ${Fleet-beta/ServerErrors.Arn}, ${Fleet-beta/SlowResponses.Arn}, arn:aws:cloudwatch:us-east-1:"+cdktest.Account+":alarm:Multi-dr-ServerErrors, arn:aws:cloudwatch:us-east-1:"+cdktest.Account+":alarm:Multi-dr-SlowResponses",
		"Allow sts:AssumeRole on ${Pipeline/Pipeline/Approve-prod/Approve/CodePipelineActionRole.Arn}, ${Pipeline/Pipeline/Build/Build/CodePipelineActionRole.Arn}, ${Pipeline/Pipeline/Deploy-beta/Deploy/CodePipelineActionRole.Arn}, ${Pipeline/Pipeline/Deploy-dr/Deploy/CodePipelineActionRole.Arn}, ${Pipeline/Pipeline/Source/Source/CodePipelineActionRole.Arn}, arn:aws:iam::"+cdktest.OtherAccount+":role/multi-labdeployactionrole7e6555e0e00665b59949, arn:aws:iam::"+cdktest.OtherAccount+":role/multi-proddeployactionrolec6eb3863b574dc1a7aa0",
		"Trust sts:AssumeRole by Service:codepipeline.amazonaws.com")
	// dr's instances read revisions from the store, decrypting with its key alone.
	dr.HasPermissions(t, "Fleet-dr/InstanceRole",
		"Allow s3:GetBucket*, s3:GetObject*, s3:List* on "+storeObjects, "Allow kms:Decrypt, kms:DescribeKey on "+storeKey,
		"Allow cloudformation:SignalResource on ${AWS::StackId}",
		"Managed arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore", "Trust sts:AssumeRole by Service:ec2.amazonaws.com")
	// lab's action role deploys there and reads the store.
	lab.HasPermissions(t, "MultiPipelineB04B04DD-Deploy-lab-Deploy-ActionRole",
		"Allow codedeploy:CreateDeployment, codedeploy:GetDeployment on arn:aws:codedeploy:us-east-1:"+cdktest.OtherAccount+":deploymentgroup:${Application}/${Instances-lab/DeploymentGroup}",
		"Allow codedeploy:GetApplicationRevision, codedeploy:RegisterApplicationRevision on arn:aws:codedeploy:us-east-1:"+cdktest.OtherAccount+":application:${Application}",
		"Allow codedeploy:GetDeploymentConfig on arn:${AWS::Partition}:codedeploy:us-east-1:"+cdktest.OtherAccount+":deploymentconfig:CodeDeployDefault.OneAtATime",
		"Allow s3:GetBucket*, s3:GetObject*, s3:List* on "+storeObjects, "Allow kms:Decrypt, kms:DescribeKey on "+storeKey, remoteTrust)
	// prod's action role and instances read the pipeline's bucket by its name. The library's
	// cross-account grants decrypt with any key ("*"): KMS keys of another stack have no names, and
	// the key's own policy admits prod's account for the artifact key only (docs/testing.md).
	prod.HasPermissions(t, "MultiPipelineB04B04DD-Deploy-prod-Deploy-ActionRole",
		"Allow codedeploy:CreateDeployment, codedeploy:GetDeployment on arn:aws:codedeploy:eu-west-1:"+cdktest.OtherAccount+":deploymentgroup:${Application}/${Fleet-prod/DeploymentGroup}",
		"Allow codedeploy:GetApplicationRevision, codedeploy:RegisterApplicationRevision on arn:aws:codedeploy:eu-west-1:"+cdktest.OtherAccount+":application:${Application}",
		"Allow codedeploy:GetDeploymentConfig on arn:${AWS::Partition}:codedeploy:eu-west-1:"+cdktest.OtherAccount+":deploymentconfig:CodeDeployDefault.OneAtATime",
		"Allow s3:GetBucket*, s3:GetObject*, s3:List* on "+prodBucket, "Allow kms:Decrypt, kms:DescribeKey on *", remoteTrust)
	prod.HasPermissions(t, "Fleet-prod/InstanceRole",
		"Allow s3:GetBucket*, s3:GetObject*, s3:List* on "+prodBucket,
		"Allow kms:Decrypt on *, arn:aws:kms:eu-west-1:"+cdktest.Account+":key/*", "Allow kms:DescribeKey on *",
		"Allow cloudformation:SignalResource on ${AWS::StackId}",
		"Managed arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore", "Trust sts:AssumeRole by Service:ec2.amazonaws.com")
	// Each remote environment forwards its deployment events to the pipeline's bus, trusting
	// EventBridge for its own rules only.
	prod.HasPermissions(t, "DeploymentEvents/EventsRole", forward("eu-west-1", cdktest.OtherAccount)...)
	dr.HasPermissions(t, "DeploymentEvents/EventsRole", forward("us-east-1", cdktest.Account)...)
	lab.HasPermissions(t, "DeploymentEvents/EventsRole", forward("us-east-1", cdktest.OtherAccount)...)
}

// stacksByName returns the app's stacks by their names.
func stacksByName(app awscdk.App) map[string]awscdk.Stack {
	out := map[string]awscdk.Stack{}
	for _, c := range *app.Node().Children() {
		if st, ok := c.(awscdk.Stack); ok {
			out[*st.StackName()] = st
		}
	}
	return out
}

// dependencies returns the names of the stacks st depends on.
func dependencies(st awscdk.Stack) (names []string) {
	for _, d := range *st.Dependencies() {
		names = append(names, *d.StackName())
	}
	return names
}
