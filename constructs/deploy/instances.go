package deploy

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/guard"
	"github.com/pipekit/cdk-pipeline/internal/names"
	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// InstancesProps configures Instances. Nil props means all defaults.
type InstancesProps struct {
	// TagKey and TagValue select the existing EC2 instances to release to.
	// Default: Environment=production.
	TagKey, TagValue *string
	// Application is the CodeDeploy application the deployment group belongs to.
	// Default: a new server application.
	Application awscodedeploy.IServerApplication
	// DeploymentConfig is how many instances are updated at once.
	// Default: awscodedeploy.ServerDeploymentConfig_ONE_AT_A_TIME().
	DeploymentConfig awscodedeploy.IServerDeploymentConfig
	// Alarms stop and roll back a deployment while they fire.
	// Default: none; a deployment still rolls back when it fails or is stopped.
	Alarms []awscloudwatch.IAlarm
	// ArtifactBucket is what InstancePolicy lets the instances read: the pipeline's artifact
	// bucket, which holds the revisions.
	// Default: none; without ArtifactBucket and ArtifactKey there is no InstancePolicy, and the
	// instances' role must be able to read the revisions some other way.
	ArtifactBucket awss3.IBucket
	// ArtifactKey is what InstancePolicy lets the instances decrypt with.
	// Default: none.
	ArtifactKey awskms.IKey
	// Name names the deployment group; a pipeline in another account or region needs a name it can
	// know when it is synthesized.
	// Default: a name CloudFormation generates.
	Name *string
}

// Instances releases to existing EC2 instances chosen by tag. The instances' role must carry
// InstancePolicy, and the instances must run the CodeDeploy agent.
type Instances struct {
	constructs.Construct
	// Group is the CodeDeploy deployment group of the tagged instances.
	Group awscodedeploy.ServerDeploymentGroup
	// InstancePolicy lets the instances read and decrypt the pipeline's artifacts; attach it to
	// their role. It is nil when neither ArtifactBucket nor ArtifactKey was given.
	InstancePolicy awsiam.ManagedPolicy

	alarms []awscloudwatch.IAlarm
}

// NewInstances creates Instances. It panics when the tag is not a valid EC2 tag.
func NewInstances(scope constructs.Construct, id *string, props *InstancesProps) *Instances {
	if props == nil {
		props = &InstancesProps{}
	}
	key, value := orString(props.TagKey, "Environment"), orString(props.TagValue, "production")
	guard.Must("deploy.NewInstances: props.TagKey and TagValue", names.Tag(*key, *value))
	in := &Instances{alarms: props.Alarms}
	constructs.NewConstruct_Override(in, scope, id)
	in.Group = newGroup(in, props.Application, props.DeploymentConfig, &awscodedeploy.ServerDeploymentGroupProps{
		DeploymentGroupName: props.Name,
		Ec2InstanceTags:     awscodedeploy.NewInstanceTagSet(&map[string]*[]*string{*key: {value}}),
		Alarms:              toAlarmRefs(props.Alarms),
		AutoRollback:        rollback(len(props.Alarms) > 0),
		InstallAgent:        jsii.Bool(false),
	})
	in.ReadArtifacts(props.ArtifactBucket, props.ArtifactKey)
	return in
}

// ReadArtifacts adds to InstancePolicy, creating it on first use, the reading of revisions from
// bucket and their decryption with key; either may be nil.
func (in *Instances) ReadArtifacts(bucket awss3.IBucket, key awskms.IKey) {
	if bucket == nil && key == nil {
		return
	}
	if in.InstancePolicy == nil {
		in.InstancePolicy = awsiam.NewManagedPolicy(in, jsii.String("InstancePolicy"), &awsiam.ManagedPolicyProps{
			Description: jsii.String("Attach to the role of the instances the pipeline deploys to: read and decrypt its artifacts."),
		})
		secure.Suppress(in.InstancePolicy, "AwsSolutions-IAM5",
			"The CodeDeploy agent reads revisions whose object keys the pipeline chooses at run time; the wildcard covers objects of the artifact bucket only, for reading.",
			`/^Resource::<.+\.Arn>\/\*$/g`, secure.NamedBucketObjects)
	}
	// A managed policy is not a principal, so the library's grants cannot target it; a role that
	// only exists to receive grants would be one more thing to secure. The statements below are
	// the ones bucket.GrantRead and key.GrantDecrypt would write.
	if bucket != nil {
		in.InstancePolicy.AddStatements(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("s3:GetObject", "s3:GetObjectVersion"),
			Resources: jsii.Strings(*bucket.ArnForObjects(jsii.String("*"))),
		}), awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("s3:ListBucket", "s3:GetBucketLocation"),
			Resources: jsii.Strings(*bucket.BucketArn()),
		}))
	}
	if key != nil {
		in.InstancePolicy.AddStatements(decryptStatement(key))
	}
}

// WatchedAlarms are Props.Alarms: those that stop a deployment may bake a deploy stage too.
func (in *Instances) WatchedAlarms() []awscloudwatch.IAlarm { return in.alarms }

// NewAction returns a CodeDeploy action that releases input to the tagged instances.
func (in *Instances) NewAction(name string, input awscodepipeline.Artifact) awscodepipeline.IAction {
	return newServerAction(name, input, in.Group)
}

// URL is nil: the stack does not know how the instances are reached.
func (in *Instances) URL() *string { return nil }

// DeploymentGroup is the instances' deployment group.
func (in *Instances) DeploymentGroup() awscodedeploy.IServerDeploymentGroup { return in.Group }

// Ready is an empty group: the instances already run the agent.
func (in *Instances) Ready() constructs.IDependable { return constructs.NewDependencyGroup() }
