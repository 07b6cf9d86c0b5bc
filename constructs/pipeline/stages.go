package pipeline

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/deploywindow"
	"github.com/pipekit/cdk-pipeline/internal/guard"
	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// Safety guards a deploy stage with CodePipeline V2's stage conditions. The zero value guards
// nothing.
type Safety struct {
	// Window is when the stage may be entered, in the form of the DeploymentWindow rule
	// (deploywindow.Parse also takes EventBridge's cron(...) form). An execution that reaches the
	// stage outside the window waits for it.
	// Default: none; the stage is entered at once.
	Window *string
	// TimeZone is Window's IANA time zone.
	// Default: "UTC".
	TimeZone *string
	// Bake is how long the stage watches Alarms after its actions succeeded. An alarm in that time
	// rolls the stage back to the last successful execution.
	// Default: none.
	Bake awscdk.Duration
	// Alarms are watched during Bake: at most 5, CodePipeline's limit of rules in a condition.
	// They must be in the pipeline's account; AlarmRegion names their region.
	// Default: none.
	Alarms []awscloudwatch.IAlarm
	// AlarmRegion is the region of Alarms.
	// Default: the pipeline's region.
	AlarmRegion *string
	// Rollback rolls the stage back to the last successful execution when it fails.
	// Default: false.
	Rollback bool
}

// AddGuardedStage appends a stage with actions that run in parallel, guarded by safety: a
// deployment window on entry, a bake watched by alarms on success, a rollback on failure. It
// panics when Window or TimeZone is not valid, or when there are more than 5 alarms.
func (p *Pipeline) AddGuardedStage(name string, safety *Safety, actions ...awscodepipeline.IAction) awscodepipeline.IStage {
	opts := &awscodepipeline.StageOptions{StageName: jsii.String(name), Actions: &actions}
	if safety == nil {
		return p.Pipeline.AddStage(opts)
	}
	where := "pipeline.AddGuardedStage " + name
	if safety.Window != nil {
		window, err := deploywindow.Parse(*safety.Window)
		guard.Must(where+": Window", err)
		zone := "UTC"
		if safety.TimeZone != nil {
			zone = *safety.TimeZone
		}
		guard.Must(where+": TimeZone", deploywindow.TimeZone(zone))
		// Outside the window the condition holds the execution until the window opens (see the
		// DeploymentWindow rule reference); FAIL is what it does only if the rule itself fails.
		opts.BeforeEntry = &awscodepipeline.Conditions{Conditions: &[]*awscodepipeline.Condition{{
			Result: awscodepipeline.Result_FAIL,
			Rules: &[]awscodepipeline.Rule{awscodepipeline.NewRule(&awscodepipeline.RuleProps{
				Name: jsii.String(name + "-Window"), Provider: jsii.String("DeploymentWindow"), Version: jsii.String("1"),
				Configuration: &map[string]any{"Cron": window, "TimeZone": zone},
			})},
		}}}
	}
	if safety.Bake != nil && len(safety.Alarms) > 0 {
		if len(safety.Alarms) > 5 {
			panic(fmt.Sprintf("%s: %d alarms; a condition holds at most 5 rules", where, len(safety.Alarms)))
		}
		// WaitTime is in whole minutes (CloudWatchAlarm rule reference); CodePipeline has no limit
		// of its own, but a bake of over a day holds every later release.
		seconds := *safety.Bake.ToSeconds(nil)
		if seconds < 60 || seconds > 1440*60 || int(seconds)%60 != 0 {
			panic(fmt.Sprintf("%s: Bake is %gs; use whole minutes from 1 to 1440", where, seconds))
		}
		minutes := fmt.Sprintf("%d", int(seconds)/60)
		var watch []awscodepipeline.Rule
		var arns []*string
		for i, alarm := range safety.Alarms {
			watch = append(watch, awscodepipeline.NewRule(&awscodepipeline.RuleProps{
				Name: jsii.String(fmt.Sprintf("%s-Bake%d", name, i+1)), Provider: jsii.String("CloudWatchAlarm"), Version: jsii.String("1"),
				Region:        safety.AlarmRegion,
				Configuration: &map[string]any{"AlarmName": alarm.AlarmName(), "WaitTime": minutes},
			}))
			arns = append(arns, alarm.AlarmArn())
		}
		opts.OnSuccess = &awscodepipeline.Conditions{Conditions: &[]*awscodepipeline.Condition{{
			Result: awscodepipeline.Result_ROLLBACK, Rules: &watch,
		}}}
		// The rules run as the pipeline's role, which reads the alarms' states.
		p.Pipeline.Role().AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"), Resources: &arns,
		}))
	}
	if safety.Rollback {
		opts.OnFailure = &awscodepipeline.FailureConditions{Result: awscodepipeline.Result_ROLLBACK}
	}
	return p.Pipeline.AddStage(opts)
}

// ArtifactsFor returns the artifact bucket and key as scope, a construct in a stack of another
// account in the pipeline's region, may name them without a cross-stack reference: the bucket by
// its generated physical name, the key as any key of the pipeline's account and region (KMS keys
// have no names). It lets that account read the bucket and decrypt with the key, in their
// policies; grant the principals of that account on the returned bucket and key.
func (p *Pipeline) ArtifactsFor(scope constructs.Construct) (awss3.IBucket, awskms.IKey) {
	here, there := awscdk.Stack_Of(p), awscdk.Stack_Of(scope)
	key := p.ArtifactKey
	if *here.Account() != *there.Account() {
		account := awsiam.NewAccountPrincipal(there.Account())
		p.ArtifactBucket.GrantRead(account, nil)
		if key != nil {
			key.GrantDecrypt(account)
		}
	}
	bucket := awss3.Bucket_FromBucketName(scope, jsii.String("PipelineArtifacts"), p.ArtifactBucket.BucketName())
	if key == nil {
		return bucket, nil
	}
	anyKey := awskms.Key_FromKeyArn(scope, jsii.String("PipelineArtifactKey"), here.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("kms"), Resource: jsii.String("key"), ResourceName: jsii.String("*"),
	}))
	secure.SuppressPolicies(awscdk.Stack_Of(scope), "AwsSolutions-IAM5",
		"The pipeline's artifact key is in another stack of another account: KMS keys have no names to refer to, so the grant covers keys of the pipeline's account and region, whose key policy admits this account for the artifact key only.",
		`/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):kms:[a-z0-9-]+:[0-9]{12}:key\/\*$/g`)
	return bucket, anyKey
}

// ReplicatedArtifacts returns the bucket and key that CodePipeline uses in region, once a stage
// with an action in region was added, as scope in another stack of that region may name them; it
// lets scope's account read them when it is not the pipeline's. It returns nil when the pipeline
// has no replication bucket in region.
func (p *Pipeline) ReplicatedArtifacts(scope constructs.Construct, region string) (awss3.IBucket, awskms.IKey) {
	support, ok := (*p.Pipeline.CrossRegionSupport())[region]
	if !ok {
		return nil, nil
	}
	here, there := awscdk.Stack_Of(p), awscdk.Stack_Of(scope)
	bucket := support.ReplicationBucket
	key := bucket.EncryptionKey()
	if *here.Account() != *there.Account() {
		account := awsiam.NewAccountPrincipal(there.Account())
		bucket.GrantRead(account, nil)
		if key != nil {
			key.GrantDecrypt(account)
		}
	}
	// The other stack is deployed first: its principals exist when the bucket policy names them.
	if *support.Stack.StackName() != *there.StackName() {
		support.Stack.AddStackDependency(there, jsii.String("the replication bucket's policy names the target's principals"))
	}
	imported := awss3.Bucket_FromBucketName(scope, jsii.String("ReplicatedArtifacts"), bucket.BucketName())
	if key == nil {
		return imported, nil
	}
	secure.SuppressPolicies(there, "AwsSolutions-IAM5",
		"CodePipeline's replication key is in the pipeline's account: KMS keys have no names to refer to, so the grant covers keys of that account and region, whose key policy admits the artifact key only.",
		`/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):kms:[a-z0-9-]+:[0-9]{12}:key\/\*$/g`)
	anyKey := awskms.Key_FromKeyArn(scope, jsii.String("ReplicatedArtifactKey"), awscdk.Stack_Of(support.Stack).FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("kms"), Resource: jsii.String("key"), ResourceName: jsii.String("*"),
	}))
	return imported, anyKey
}

// HardenReplication brings the stacks that CodePipeline's cross-region support created (one per
// other region, with a replication bucket and, for cross-account pipelines, a rotating key) up to
// the pipeline's own standard: retained on deletion, grants denied, versions, server access logs to a log bucket of the region, and the
// same checks. Call it after the last stage was added.
func (p *Pipeline) HardenReplication(check func(awscdk.Stack)) {
	for _, support := range *p.Pipeline.CrossRegionSupport() {
		bucket := support.ReplicationBucket
		// The library deletes the key with the stack and keeps the bucket, whose objects would then
		// be unreadable: both are Retained, like the artifact store, and the key denies grants.
		bucket.ApplyRemovalPolicy(secure.Retained)
		if key, ok := bucket.Node().Scope().Node().TryFindChild(jsii.String("CrossRegionCodePipelineReplicationBucketEncryptionKey")).(awskms.Key); ok {
			key.ApplyRemovalPolicy(secure.Retained)
			secure.DenyGrants(key)
		}
		logs := secure.NewLogBucket(support.Stack, "ReplicationAccessLogs")
		logs.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logging.s3.amazonaws.com"), nil)},
			Actions:    jsii.Strings("s3:PutObject"),
			Resources:  jsii.Strings(*logs.ArnForObjects(jsii.String("replication-bucket/*"))),
			Conditions: &map[string]any{
				"ArnLike":      map[string]any{"aws:SourceArn": bucket.BucketArn()},
				"StringEquals": map[string]any{"aws:SourceAccount": support.Stack.Account()},
			},
		}))
		if cfn, ok := bucket.Node().DefaultChild().(awss3.CfnBucket); ok {
			cfn.SetLoggingConfiguration(&awss3.CfnBucket_LoggingConfigurationProperty{
				DestinationBucketName: logs.BucketName(), LogFilePrefix: jsii.String("replication-bucket/"),
			})
			// Like the artifact bucket: versions, replaced ones kept a week, object events on.
			cfn.SetVersioningConfiguration(&awss3.CfnBucket_VersioningConfigurationProperty{Status: jsii.String("Enabled")})
			cfn.SetLifecycleConfiguration(&awss3.CfnBucket_LifecycleConfigurationProperty{Rules: &[]any{
				&awss3.CfnBucket_RuleProperty{
					Id: jsii.String("ExpireReplacedVersions"), Status: jsii.String("Enabled"),
					NoncurrentVersionExpiration:    &awss3.CfnBucket_NoncurrentVersionExpirationProperty{NoncurrentDays: jsii.Number(7)},
					AbortIncompleteMultipartUpload: &awss3.CfnBucket_AbortIncompleteMultipartUploadProperty{DaysAfterInitiation: jsii.Number(1)},
					ExpiredObjectDeleteMarker:      jsii.Bool(true),
				},
			}})
			cfn.AddPropertyOverride(jsii.String("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled"), true)
		}
		secure.ConfineEventBridgeRoles(support.Stack)
		if check != nil {
			check(support.Stack)
		}
	}
}
