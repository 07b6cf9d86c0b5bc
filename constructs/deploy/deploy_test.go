package deploy_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/constructs/deploy"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// Example_fleet creates three instances behind a load balancer, updated half at a time, and rolled
// back when a release fails, is stopped, or trips the fleet's alarms.
func Example_fleet() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("FleetExample"), nil)
	fleet := deploy.NewFleet(stack, jsii.String("Fleet"), &deploy.FleetProps{
		Size:             jsii.Number(3),
		InstanceType:     awsec2.NewInstanceType(jsii.String("t3.small")),
		DeploymentConfig: awscodedeploy.ServerDeploymentConfig_HALF_AT_A_TIME(),
	})
	template := assertions.Template_FromStack(stack, nil)
	groups := *template.FindResources(jsii.String("AWS::CodeDeploy::DeploymentGroup"), nil)
	for _, group := range groups {
		fmt.Println((*group)["Properties"].(map[string]any)["DeploymentConfigName"])
	}
	fmt.Println(len(fleet.Alarms), "alarms roll a release back")
	// Output:
	// CodeDeployDefault.HalfAtATime
	// 2 alarms roll a release back
}

// Example_instances releases to existing instances tagged Environment=staging, which read the
// revisions from a pipeline's artifact bucket: attach InstancePolicy to their role.
func Example_instances() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("InstancesExample"), nil)
	in := deploy.NewInstances(stack, jsii.String("Staging"), &deploy.InstancesProps{
		TagKey: jsii.String("Environment"), TagValue: jsii.String("staging"),
		ArtifactBucket: awss3.Bucket_FromBucketName(stack, jsii.String("Artifacts"), jsii.String("my-pipeline-artifacts")),
		ArtifactKey:    awskms.Key_FromKeyArn(stack, jsii.String("Key"), jsii.String("arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")),
	})
	template := assertions.Template_FromStack(stack, nil)
	fmt.Println(len(*template.FindResources(jsii.String("AWS::IAM::ManagedPolicy"), nil)), "policy to attach")
	fmt.Println(in.URL() == nil)
	// Output:
	// 1 policy to attach
	// true
}

// Example_existing releases with a deployment group that another stack or team owns.
func Example_existing() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("ExistingExample"), nil)
	application := awscodedeploy.ServerApplication_FromServerApplicationName(stack, jsii.String("App"), jsii.String("shop"))
	group := awscodedeploy.ServerDeploymentGroup_FromServerDeploymentGroupAttributes(stack, jsii.String("Group"), &awscodedeploy.ServerDeploymentGroupAttributes{
		Application: application, DeploymentGroupName: jsii.String("shop-prod"),
	})
	target := deploy.Existing(group, jsii.String("https://shop.example.com"))
	fmt.Println(*target.URL(), *target.DeploymentGroup().DeploymentGroupName())
	// Output: https://shop.example.com shop-prod
}

func TestFleetOnItsOwnIsNagClean(t *testing.T) {
	stack := cdktest.NewStack("Test")
	// An existing VPC, as a team that has one would pass it.
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{NatGateways: jsii.Number(0), MaxAzs: jsii.Number(2),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{Name: jsii.String("Public"), SubnetType: awsec2.SubnetType_PUBLIC}}})
	vpc.AddFlowLog(jsii.String("FlowLog"), nil)
	deploy.NewFleet(stack, jsii.String("Fleet"), &deploy.FleetProps{Vpc: vpc})
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	s.Count(t, "AWS::EC2::VPC", 1)
	s.Has(t, "AWS::CodeDeploy::DeploymentGroup", map[string]any{"DeploymentConfigName": "CodeDeployDefault.OneAtATime"})
}

// TestFleetWithARegionLogsItsLoadBalancer: with a known region (cdk deploy with credentials), the
// load balancer logs to the log bucket, and no ELB2 suppression is recorded.
func TestFleetWithARegionLogsItsLoadBalancer(t *testing.T) {
	s, _ := regionalFleet(t)
	assert.Empty(t, s.NagErrors)
	s.Has(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", map[string]any{"LoadBalancerAttributes": cdktest.ArrayWith(
		assertions.Match_Exact(map[string]any{"Key": "access_logs.s3.enabled", "Value": "true"}),
	)})
	assert.NotContains(t, s.Text(), "AwsSolutions-ELB2")
}

func TestFleetWithACertificateServesHTTPS(t *testing.T) {
	stack := cdktest.NewStack("Tls")
	cert := awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("Cert"), jsii.String("arn:aws:acm:us-east-1:123456789012:certificate/abc"))
	fleet := deploy.NewFleet(stack, jsii.String("Fleet"), &deploy.FleetProps{Certificate: cert})
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	s.Has(t, "AWS::ElasticLoadBalancingV2::Listener", map[string]any{"Port": 443.0, "Protocol": "HTTPS", "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
		"Certificates": []any{map[string]any{"CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"}}})
	s.Has(t, "AWS::ElasticLoadBalancingV2::Listener", map[string]any{"Port": 80.0, "Protocol": "HTTP",
		"DefaultActions": []any{cdktest.ObjectLike(map[string]any{"Type": "redirect", "RedirectConfig": cdktest.ObjectLike(map[string]any{"Port": "443", "Protocol": "HTTPS"})})}})
	assert.Contains(t, cdktest.Resolve(stack, fleet.URL()), "https://")
}

func TestConfigNames(t *testing.T) {
	for name, want := range map[string]string{"OneAtATime": "CodeDeployDefault.OneAtATime", "HalfAtATime": "CodeDeployDefault.HalfAtATime", "AllAtOnce": "CodeDeployDefault.AllAtOnce"} {
		assert.Equal(t, want, *deploy.Config(name).DeploymentConfigName())
	}
	assert.PanicsWithValue(t, `deploy.Config: "TwoAtATime" is not a deployment configuration; use OneAtATime, HalfAtATime, AllAtOnce`, func() { deploy.Config("TwoAtATime") })
}

// TestNilProps: each constructor works with nil props, or fails with one line naming the prop
// before it creates anything.
func TestNilProps(t *testing.T) {
	stack := cdktest.NewStack("NilProps")
	in := deploy.NewInstances(stack, jsii.String("Instances"), nil)
	assert.Nil(t, in.InstancePolicy, "no artifact bucket or key, no policy")
	deploy.NewFleet(stack, jsii.String("Fleet"), nil)
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	// The instances' default tag, exactly.
	s.Has(t, "AWS::CodeDeploy::DeploymentGroup", map[string]any{"Ec2TagSet": assertions.Match_Exact(map[string]any{"Ec2TagSetList": []any{
		map[string]any{"Ec2TagGroup": []any{map[string]any{"Key": "Environment", "Value": "production", "Type": "KEY_AND_VALUE"}}},
	}})})
	assert.PanicsWithValue(t, "deploy.NewBeanstalk: props.Application is required", func() { deploy.NewBeanstalk(stack, jsii.String("B1"), nil) })
	assert.PanicsWithValue(t, "deploy.NewBeanstalk: props.Environment is required", func() {
		deploy.NewBeanstalk(stack, jsii.String("B2"), &deploy.BeanstalkProps{Application: jsii.String("app")})
	})
	assert.PanicsWithValue(t, "deploy.NewBeanstalk: props.PipelineRole is required", func() {
		deploy.NewBeanstalk(stack, jsii.String("B3"), &deploy.BeanstalkProps{Application: jsii.String("app"), Environment: jsii.String("env")})
	})
}

func TestPropsAreCheckedLikeSettings(t *testing.T) {
	stack := cdktest.NewStack("Checked")
	assert.PanicsWithValue(t, `deploy.NewFleet: props.InstanceType: "t4g.micro" is an Arm (Graviton) type; the fleet runs x86_64 Amazon Linux 2023 and an amd64 build, so use an x86_64 type such as t3.micro`, func() {
		deploy.NewFleet(stack, jsii.String("Arm"), &deploy.FleetProps{InstanceType: awsec2.NewInstanceType(jsii.String("t4g.micro"))})
	})
	assert.PanicsWithValue(t, `deploy.NewInstances: props.TagKey and TagValue: "aws:x=y" is not a valid EC2 tag: the key is 1-128 characters, the value up to 256, no control characters, and keys may not start with aws:`, func() {
		deploy.NewInstances(stack, jsii.String("AwsTag"), &deploy.InstancesProps{TagKey: jsii.String("aws:x"), TagValue: jsii.String("y")})
	})
	role := awsiam.NewRole(cdktest.NewStack("Roles"), jsii.String("PipelineRole"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("codepipeline.amazonaws.com"), nil)})
	assert.PanicsWithValue(t, `deploy.NewBeanstalk: props.Environment: "-x" is not an Elastic Beanstalk environment name: use 4-40 letters, digits or '-', not starting or ending with '-'`, func() {
		deploy.NewBeanstalk(stack, jsii.String("BadEnv"), &deploy.BeanstalkProps{Application: jsii.String("app"), Environment: jsii.String("-x"), PipelineRole: role})
	})
	assert.Empty(t, *stack.Node().Children(), "nothing was created")
}

// TestInstancesBakeWithTheirAlarms: alarms given to Instances stop a deployment and are the ones
// a deploy stage bakes with; without them there is nothing to bake with.
func TestInstancesBakeWithTheirAlarms(t *testing.T) {
	stack := cdktest.NewStack("InstanceAlarms")
	alarm := awscloudwatch.Alarm_FromAlarmName(stack, jsii.String("Errors"), jsii.String("app-errors"))
	in := deploy.NewInstances(stack, jsii.String("Watched"), &deploy.InstancesProps{Alarms: []awscloudwatch.IAlarm{alarm}})
	if assert.Len(t, in.WatchedAlarms(), 1) {
		assert.Equal(t, "app-errors", *in.WatchedAlarms()[0].AlarmName())
	}
	assert.Empty(t, deploy.NewInstances(stack, jsii.String("Unwatched"), nil).WatchedAlarms())
}

// TestFleetIsReachable: the load balancer admits the internet on its listeners' ports (80; and 443
// with a certificate), and the instances admit only the load balancer, on the application's port.
// A closed listener still deploys, and the application is unreachable.
func TestFleetIsReachable(t *testing.T) {
	for name, cert := range map[string]bool{"http": false, "https": true} {
		stack := cdktest.NewStack("Reach")
		props := &deploy.FleetProps{}
		if cert {
			props.Certificate = awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("Cert"), jsii.String("arn:aws:acm:us-east-1:123456789012:certificate/abc"))
		}
		fleet := deploy.NewFleet(stack, jsii.String("Fleet"), props)
		s := cdktest.Synth(t, stack)
		lbGroup := *stack.GetLogicalId((*fleet.LoadBalancer.Connections().SecurityGroups())[0].Node().DefaultChild().(awscdk.CfnElement))
		var open []string
		for id, r := range s.Resources("AWS::EC2::SecurityGroup") {
			rules, _ := r["Properties"].(map[string]any)["SecurityGroupIngress"].([]any)
			for _, rule := range rules {
				if rule := rule.(map[string]any); rule["CidrIp"] == "0.0.0.0/0" {
					assert.Equal(t, lbGroup, id, "%s: only the load balancer is open to the internet", name)
					open = append(open, fmt.Sprintf("%v-%v", rule["FromPort"], rule["ToPort"]))
				}
			}
		}
		want := []string{"80-80"}
		if cert {
			want = []string{"443-443", "80-80"}
		}
		assert.ElementsMatch(t, want, open, "%s: the listeners' ports are open", name)
		ingress := s.Resources("AWS::EC2::SecurityGroupIngress")
		require.Len(t, ingress, 1, name)
		for _, r := range ingress {
			p := r["Properties"].(map[string]any)
			assert.Equal(t, map[string]any{"Fn::GetAtt": []any{lbGroup, "GroupId"}}, p["SourceSecurityGroupId"], "%s: the instances admit the load balancer", name)
			assert.Equal(t, 8080.0, p["FromPort"], name)
			assert.Equal(t, 8080.0, p["ToPort"], name)
		}
	}
}
