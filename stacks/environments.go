package stacks

import (
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/constructs/deploy"
	"github.com/pipekit/cdk-pipeline/constructs/pipeline"
	"github.com/pipekit/cdk-pipeline/internal/secure"
	"github.com/pipekit/cdk-pipeline/notify"
	"github.com/pipekit/cdk-pipeline/settings"
)

// deployment is one environment of the pipeline: its settings, the stack its target lives in, and
// the target.
type deployment struct {
	env    settings.Environment
	stack  awscdk.Stack
	target deploy.Target
	// remote is true when the target's stack is not the pipeline's: another account or region.
	remote bool
}

// suffix is what the environment's construct ids, stage names and outputs carry: nothing for the
// implicit environment of a pipeline without an environments list, whose ids are unchanged.
func (d deployment) suffix() string {
	if d.env.Name == "" {
		return ""
	}
	return "-" + d.env.Name
}

// outputID is the environment's output name, such as AppUrlProd; outputs take letters and digits.
func (d deployment) outputID(base string) string {
	return base + strings.ReplaceAll(strings.ToUpper(d.env.Name[:min(1, len(d.env.Name))])+d.env.Name[min(1, len(d.env.Name)):], "-", "")
}

// newDeployment creates the environment's target: in the pipeline stack, or, for another account
// or region, in a stack of its own named <pipeline stack>-<environment>. Such a stack is deployed
// before the pipeline stack, which refers to it by names it gives its resources at synthesis.
func newDeployment(scope constructs.Construct, stack awscdk.Stack, e settings.Environment, pipe *pipeline.Pipeline, s settings.Settings, stores map[string]*pipeline.Replication) deployment {
	d := deployment{env: e, stack: stack}
	if (e.Account != "" && e.Account != *stack.Account()) || (e.Region != "" && e.Region != *stack.Region()) {
		d.remote = true
		d.stack = newEnvironmentStack(scope, stack, e, s)
	}
	d.target = d.newTarget(pipe)
	if d.remote {
		d.readArtifacts(stack, pipe, stores)
	}
	return d
}

// newEnvironmentStack is the stack of an environment in another account or region, which the
// pipeline stack depends on.
func newEnvironmentStack(scope constructs.Construct, stack awscdk.Stack, e settings.Environment, s settings.Settings) awscdk.Stack {
	env := &awscdk.Environment{Account: stack.Account(), Region: stack.Region()}
	if e.Account != "" {
		env.Account = jsii.String(e.Account)
	}
	if e.Region != "" {
		env.Region = jsii.String(e.Region)
	}
	envStack := newSupportStack(scope, stack, e.Name, env, "the "+e.Name+" environment's deploy target.", s)
	stack.AddStackDependency(envStack, jsii.String("the pipeline releases to "+e.Name))
	secure.ConfineEventBridgeRoles(envStack)
	// The pipeline's artifacts are in another stack, of another account or region: the
	// library's grants name its bucket by its generated name, and, as KMS keys have no names,
	// any key, which the key's own policy narrows to the artifact key.
	secure.SuppressPolicies(envStack, "AwsSolutions-IAM5",
		"The pipeline's artifact bucket and key are in another account or region: the library's grants to this stack's roles (the CodeDeploy action role CodePipeline assumes here, the instances) read objects the pipeline names at run time under that bucket's generated name, with the S3 read action families, and decrypt with any key, because KMS keys have no names; the key's own policy admits the artifact key only.",
		"Resource::*", "Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", secure.AliasedKeys,
		secure.NamedBucketObjects, `/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):s3:::<.+>\/\*$/g`)
	return envStack
}

// newSupportStack is a stack of the pipeline's, <pipeline stack>-<suffix>, in env, described as
// what it holds, protected from deletion as the pipeline stack is, and checked by cdk-nag as it is.
func newSupportStack(scope constructs.Construct, stack awscdk.Stack, suffix string, env *awscdk.Environment, holds string, s settings.Settings) awscdk.Stack {
	support := awscdk.NewStack(scope, jsii.String(*stack.StackName()+"-"+suffix), &awscdk.StackProps{
		Env:                   env,
		Description:           jsii.String("CI/CD pipeline " + *stack.StackName() + ": " + holds),
		TerminationProtection: jsii.Bool(s.TerminationProtection),
	})
	check(support, s.CompliancePacks)
	return support
}

// newTarget creates the environment's deploy target in its stack. A remote target's names are
// fixed at synthesis, so that the pipeline can name them, and it reads the artifacts through
// names (readArtifacts), not the pipeline stack's resources.
func (d deployment) newTarget(pipe *pipeline.Pipeline) deploy.Target {
	id := func(base string) *string { return jsii.String(base + d.suffix()) }
	var name *string
	var app awscodedeploy.IServerApplication
	bucket, key := pipe.ArtifactBucket, pipe.ArtifactKey
	if d.remote {
		name = d.stack.StackName()
		app = awscodedeploy.NewServerApplication(d.stack, jsii.String("Application"), &awscodedeploy.ServerApplicationProps{ApplicationName: name})
		bucket, key = nil, nil
	}
	e := d.env
	switch e.DeployTarget {
	case settings.Instances:
		// Not the fleet's name: CloudFormation creates a changed target's deployment group before
		// it deletes the old one, and CodeDeploy refuses a name its application already has.
		if name != nil {
			name = jsii.String(*name + "-instances")
		}
		return deploy.NewInstances(d.stack, id("Instances"), &deploy.InstancesProps{
			TagKey: jsii.String(e.InstanceTag.Key), TagValue: jsii.String(e.InstanceTag.Value), Name: name, Application: app,
			DeploymentConfig: deploy.Config(e.DeploymentConfig), ArtifactBucket: bucket, ArtifactKey: key,
		})
	case settings.Beanstalk:
		return deploy.NewBeanstalk(d.stack, id("Beanstalk"), &deploy.BeanstalkProps{
			Application: jsii.String(e.BeanstalkApplication), Environment: jsii.String(e.BeanstalkEnvironment),
			PipelineRole: pipe.Pipeline.Role(),
		})
	default:
		props := &deploy.FleetProps{
			InstanceType: awsec2.NewInstanceType(jsii.String(e.InstanceType)), Size: jsii.Number(float64(e.FleetSize)),
			DeploymentConfig: deploy.Config(e.DeploymentConfig), ArtifactBucket: bucket, ArtifactKey: key, Name: name, Application: app,
		}
		if !d.remote {
			props.LogBucket = pipe.AccessLogBucket
		}
		return deploy.NewFleet(d.stack, id("Fleet"), props)
	}
}

// readArtifacts lets a remote target read the revisions: in the pipeline stack's region from the
// pipeline's bucket, named; in another region from the copy CodePipeline hands the action in the
// region's replication store.
func (d deployment) readArtifacts(stack awscdk.Stack, pipe *pipeline.Pipeline, stores map[string]*pipeline.Replication) {
	var bucket awss3.IBucket
	var key awskms.IKey
	if *d.stack.Region() == *stack.Region() {
		bucket, key = pipe.ArtifactsFor(d.stack)
	} else {
		store := stores[*d.stack.Region()].Store()
		bucket, key = store, store.EncryptionKey()
	}
	if reader, ok := d.target.(deploy.ArtifactReader); ok {
		reader.ReadArtifacts(bucket, key)
	}
}

// newReplications makes CodePipeline's artifact store for every region, other than the pipeline
// stack's, that an environment deploys to: each in a stack of the pipeline's account in that
// region, <pipeline stack>-replication-<region>, which the pipeline stack depends on. Their bucket
// and key policies admit the accounts of the region's environments by their roots, so these stacks
// depend on no other.
func newReplications(scope constructs.Construct, stack awscdk.Stack, envs []settings.Environment, s settings.Settings) map[string]*pipeline.Replication {
	account, region := *stack.Account(), *stack.Region()
	stores := map[string]*pipeline.Replication{}
	readers := map[string][]*string{}
	var regions []string
	for _, e := range envs {
		if e.Region == "" || e.Region == region {
			continue
		}
		if _, seen := readers[e.Region]; !seen {
			regions = append(regions, e.Region)
			readers[e.Region] = nil
		}
		if e.Account != "" && e.Account != account && !slices.ContainsFunc(readers[e.Region], func(a *string) bool { return *a == e.Account }) {
			readers[e.Region] = append(readers[e.Region], jsii.String(e.Account))
		}
	}
	for _, r := range regions {
		support := newSupportStack(scope, stack, "replication-"+r, &awscdk.Environment{Account: stack.Account(), Region: jsii.String(r)},
			"CodePipeline's copy of the artifacts in "+r+".", s)
		stores[r] = pipeline.NewReplication(support, jsii.String("Replication"), &pipeline.ReplicationProps{
			BucketName: jsii.String(pipeline.ReplicationBucketName(*stack.StackName(), account, r)),
			AliasName:  jsii.String("alias/" + *stack.StackName() + "-replication"),
			Readers:    readers[r],
		})
	}
	return stores
}

// forwardDeploymentEvents sends the CodeDeploy events of a remote target to the pipeline's event
// bus, where the notification rule picks them up: EventBridge delivers an account's and region's
// events on that account's and region's bus only. The pipeline's bus lets the target's account put
// events on it.
func (d deployment) forwardDeploymentEvents(pipelineStack awscdk.Stack) {
	group := d.target.DeploymentGroup()
	if !d.remote || group == nil {
		return
	}
	bus := awsevents.EventBus_FromEventBusArn(d.stack, jsii.String("PipelineEventBus"), pipelineStack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("events"), Resource: jsii.String("event-bus"), ResourceName: jsii.String("default"),
	}))
	rule := awsevents.NewRule(d.stack, jsii.String("DeploymentEvents"), &awsevents.RuleProps{
		Description: jsii.String("Sends this environment's deployment events to the pipeline's event bus, for its notifications."),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.codedeploy"),
			DetailType: jsii.Strings("CodeDeploy Deployment State-change Notification"),
			Detail: &map[string]any{
				"application": []*string{group.Application().ApplicationName()}, "deploymentGroup": []*string{group.DeploymentGroupName()},
				"state": notify.DeploymentStates,
			},
		},
	})
	rule.AddTarget(awseventstargets.NewEventBus(bus, &awseventstargets.EventBusProps{
		DeadLetterQueue: secure.NewDeadLetterQueue(d.stack, "DeploymentEventsDeadLetters"),
	}))
	if *d.stack.Account() != *pipelineStack.Account() {
		// CfnEventBusPolicy would warn, at every synth, of its deprecated Principal property, and
		// EventBusPolicy cannot render a statement with a principal (a circular reference).
		awscdk.NewCfnResource(pipelineStack, jsii.String("AcceptDeploymentEvents"+d.suffix()), &awscdk.CfnResourceProps{
			Type: jsii.String("AWS::Events::EventBusPolicy"),
			Properties: &map[string]any{
				"EventBusName": "default",
				"StatementId":  *pipelineStack.StackName() + "-" + d.env.Name,
				"Statement": map[string]any{
					"Effect":    "Allow",
					"Principal": map[string]any{"AWS": awsiam.NewAccountPrincipal(d.stack.Account()).Arn()},
					"Action":    "events:PutEvents",
					"Resource":  bus.EventBusArn(),
					"Condition": map[string]any{"StringEquals": map[string]any{"events:source": "aws.codedeploy"}},
				},
			},
		})
	}
}
