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
	// "For pipelines in PARALLEL mode, stage rollback is not available", nor conditions with a
	// rollback result (CodePipeline User Guide, execution modes):
	// https://docs.aws.amazon.com/codepipeline/latest/userguide/execution-modes.html
	if p.mode == awscodepipeline.ExecutionMode_PARALLEL && (safety.Rollback || (safety.Bake != nil && len(safety.Alarms) > 0)) {
		panic(where + ": Rollback and Bake roll the stage back, which a PARALLEL pipeline cannot do")
	}
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
		admitReader(p.ArtifactBucket, key, there.Account())
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

// admitReader lets account read bucket's objects and decrypt them with key (which may be nil), in
// the bucket's and the key's own policies, as the library's grants to another account's principal
// write them; that account's own policies must still name its principals. Granting on the root
// names no role, so the policies never wait for one.
func admitReader(bucket awss3.IBucket, key awskms.IKey, account *string) {
	reader := awsiam.NewAccountPrincipal(account)
	bucket.GrantRead(reader, nil)
	if key != nil {
		key.GrantDecrypt(reader)
	}
}
