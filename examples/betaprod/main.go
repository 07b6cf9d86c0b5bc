// Command betaprod composes the construct packages differently from the default stack: every
// change goes to a one-instance beta fleet automatically, bakes there, waits for an approver who
// has looked at beta, and only then reaches a larger production fleet, inside office hours, baking
// again.
//
// The settings alone give that release path too (see docs/environments.md):
//
//	-c environments='[{"name":"beta","fleetSize":1,"approval":false},{"name":"prod","fleetSize":4,"deploymentConfig":"HalfAtATime","deployWindow":"* * 9-16 ? * MON-FRI"}]'
//
// What they cannot express, and this program does: both fleets in one VPC and one CodeDeploy
// application (the settings give each environment its own), a production bake that also watches
// an alarm of the program's choosing, and stage and action names of its own.
//
// Run it with the CDK CLI from the repository root:
//
//	npx cdk synth --app "go run ./examples/betaprod"
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/pipekit/cdk-pipeline/constructs/approval"
	"github.com/pipekit/cdk-pipeline/constructs/build"
	"github.com/pipekit/cdk-pipeline/constructs/deploy"
	"github.com/pipekit/cdk-pipeline/constructs/notification"
	"github.com/pipekit/cdk-pipeline/constructs/pipeline"
	"github.com/pipekit/cdk-pipeline/constructs/source"
)

func main() {
	app := awscdk.NewApp(nil)
	NewStack(app, jsii.String("BetaProdPipeline"))
	app.Synth(nil)
	jsii.Close()
}

// NewStack builds the beta-then-production pipeline for the existing repository "shop".
func NewStack(scope awscdk.App, id *string) awscdk.Stack {
	stack := awscdk.NewStack(scope, id, nil)
	awscdk.Aspects_Of(stack).Add(cdknag.NewAwsSolutionsChecks(nil), nil)

	p := pipeline.New(stack, jsii.String("Pipeline"), &pipeline.Props{ExecutionMode: awscodepipeline.ExecutionMode_QUEUED})
	// The stack reads the repository; it neither creates nor deletes it.
	shop := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Shop"), jsii.String("shop"))
	src := source.New(stack, jsii.String("Source"), &source.Props{Repository: shop})
	b := build.New(stack, jsii.String("Build"), &build.Props{EncryptionKey: p.ArtifactKey, CacheBucket: p.ArtifactBucket})
	built := awscodepipeline.NewArtifact(jsii.String("Build"), nil)

	// One application, one VPC: two deployment groups with their own fleets and alarms.
	app := awscodedeploy.NewServerApplication(stack, jsii.String("Application"), nil)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs: jsii.Number(2), NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{Name: jsii.String("Public"), SubnetType: awsec2.SubnetType_PUBLIC}},
		FlowLogs:            &map[string]*awsec2.FlowLogOptions{"FlowLog": {Destination: awsec2.FlowLogDestination_ToS3(p.AccessLogBucket, jsii.String("flow-logs/"), nil)}},
	})
	fleet := func(name string, size float64, config awscodedeploy.IServerDeploymentConfig) *deploy.Fleet {
		return deploy.NewFleet(stack, jsii.String(name), &deploy.FleetProps{
			Vpc: vpc, Size: jsii.Number(size), Application: app, DeploymentConfig: config,
			ArtifactBucket: p.ArtifactBucket, ArtifactKey: p.ArtifactKey, LogBucket: p.AccessLogBucket,
		})
	}
	beta := fleet("Beta", 1, awscodedeploy.ServerDeploymentConfig_ALL_AT_ONCE())
	prod := fleet("Prod", 4, awscodedeploy.ServerDeploymentConfig_HALF_AT_A_TIME())
	// The first execution starts when the pipeline is created: once both fleets run the agent.
	p.Pipeline.Node().AddDependency(beta.Ready(), prod.Ready())

	n := notification.New(stack, jsii.String("Notification"), &notification.Props{
		Pipeline:         p.Pipeline,
		DeploymentGroups: []awscodedeploy.IServerDeploymentGroup{beta.Group, prod.Group},
	})
	n.Subscribe("email", "releases@example.com")
	gate := approval.New(stack, jsii.String("Approval"), &approval.Props{
		Emails: []string{"lead@example.com"}, Key: n.Key, SourceNamespace: src.Namespace,
		BuildURL: b.BuildURL(), ReviewURL: beta.URL(), ActionName: jsii.String("PromoteToProd"),
	})

	// A production alarm the settings know nothing of: any instance of the fleet running hot.
	hot := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("AWS/EC2"), MetricName: jsii.String("CPUUtilization"), Statistic: jsii.String("Maximum"),
		DimensionsMap: &map[string]*string{"AutoScalingGroupName": prod.AutoScalingGroup.AutoScalingGroupName()},
	}).CreateAlarm(stack, jsii.String("ProdHot"), &awscloudwatch.CreateAlarmOptions{
		AlarmDescription: jsii.String("A production instance runs above 90% CPU: roll the release back."),
		Threshold:        jsii.Number(90), EvaluationPeriods: jsii.Number(3),
		TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
	})

	p.AddStage("Source", src.Action)
	p.AddStage("Build", b.NewAction(src.Output, built))
	p.AddGuardedStage("Beta", &pipeline.Safety{
		Bake: awscdk.Duration_Minutes(jsii.Number(10)), Alarms: beta.WatchedAlarms(), Rollback: true,
	}, beta.NewAction("DeployBeta", built))
	p.AddStage("Approve", gate.Action)
	p.AddGuardedStage("Prod", &pipeline.Safety{
		Window: jsii.String("cron(* 9-16 ? * MON-FRI *)"), TimeZone: jsii.String("Europe/Paris"),
		Bake: awscdk.Duration_Minutes(jsii.Number(30)), Alarms: append(prod.WatchedAlarms(), hot), Rollback: true,
	}, prod.NewAction("DeployProd", built))
	return stack
}
