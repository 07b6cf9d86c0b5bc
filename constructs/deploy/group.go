package deploy

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// newGroup creates the deployment group that Fleet and Instances share the shape of, filling in
// the application and deployment configuration defaults.
func newGroup(scope constructs.Construct, app awscodedeploy.IServerApplication, config awscodedeploy.IServerDeploymentConfig,
	props *awscodedeploy.ServerDeploymentGroupProps) awscodedeploy.ServerDeploymentGroup {
	if app == nil {
		app = awscodedeploy.NewServerApplication(scope, jsii.String("Application"), nil)
	}
	if config == nil {
		config = awscodedeploy.ServerDeploymentConfig_ONE_AT_A_TIME()
	}
	props.Application = app
	props.DeploymentConfig = config
	group := awscodedeploy.NewServerDeploymentGroup(scope, jsii.String("DeploymentGroup"), props)
	secure.Suppress(group, "AwsSolutions-IAM4", "AWSCodeDeployRole is the service role AWS defines for CodeDeploy on EC2 and Auto Scaling; the library attaches it and CodeDeploy needs all of it to manage the group.",
		secure.AWSManagedPolicy("service-role/AWSCodeDeployRole"))
	return group
}

// grantArtifacts lets instances read and decrypt revisions, and nothing more.
func grantArtifacts(role awsiam.IRole, bucket awss3.IBucket, key awskms.IKey) {
	if bucket != nil {
		bucket.GrantRead(role, nil)
	}
	if key != nil {
		role.AddToPrincipalPolicy(decryptStatement(key))
	}
	secure.SuppressPolicies(role, "AwsSolutions-IAM5",
		"The CodeDeploy agent reads revisions whose object keys the pipeline chooses at run time, under the artifact bucket only.",
		"Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", `/^Resource::<.+\.Arn>\/\*$/g`)
}

// decryptStatement is the statement key.GrantDecrypt writes for a key in the grantee's account.
// Written out, it also serves a key of the pipeline's account that a stack of another account can
// only name by ARN, whose key policy admits that account; and a key named by its alias (a
// replication store's, pipeline.Replication), which IAM cannot name: it then covers the keys of the
// alias's account and region that carry the alias (kms:ResourceAliases), as aws-cdk-lib grants on
// an imported alias.
func decryptStatement(key awskms.IKey) awsiam.PolicyStatement {
	arn := awscdk.Arn_Split(key.KeyArn(), awscdk.ArnFormat_SLASH_RESOURCE_NAME)
	if arn.Resource == nil || *arn.Resource != "alias" {
		return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings("kms:Decrypt"), Resources: jsii.Strings(*key.KeyArn())})
	}
	keys := awscdk.Arn_Format(&awscdk.ArnComponents{
		Partition: arn.Partition, Service: jsii.String("kms"), Region: arn.Region, Account: arn.Account,
		Resource: jsii.String("key"), ResourceName: jsii.String("*"),
	}, nil)
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("kms:Decrypt"), Resources: jsii.Strings(*keys),
		Conditions: &map[string]any{"ForAnyValue:StringEquals": map[string]any{"kms:ResourceAliases": "alias/" + *arn.ResourceName}},
	})
}

func toAlarmRefs(alarms []awscloudwatch.IAlarm) *[]interfacesawscloudwatch.IAlarmRef {
	refs := make([]interfacesawscloudwatch.IAlarmRef, len(alarms))
	for i, a := range alarms {
		refs[i] = a
	}
	return &refs
}
