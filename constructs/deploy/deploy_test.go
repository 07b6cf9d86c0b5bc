package deploy_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/stretchr/testify/assert"

	"github.com/pipekit/cdk-pipeline/constructs/deploy"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// Example_fleet creates three instances behind a load balancer, updated half at a time, and rolled
// back when a release fails, is stopped, or trips the fleet's alarms.
func Example_fleet() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Example"), nil)
	fleet := deploy.NewFleet(stack, jsii.String("Fleet"), &deploy.FleetProps{
		Size:             jsii.Number(3),
		InstanceType:     awsec2.NewInstanceType(jsii.String("t3.small")),
		DeploymentConfig: awscodedeploy.ServerDeploymentConfig_HALF_AT_A_TIME(),
	})
	fmt.Println(len(fleet.Alarms), "alarms")
	fmt.Println(cdktest.Count(stack, "AWS::AutoScaling::AutoScalingGroup", "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::CodeDeploy::DeploymentGroup"))
	// Output:
	// 2 alarms
	// AWS::AutoScaling::AutoScalingGroup: 1
	// AWS::ElasticLoadBalancingV2::LoadBalancer: 1
	// AWS::CodeDeploy::DeploymentGroup: 1
}

// Example_instances releases to existing instances tagged Environment=staging; attach
// InstancePolicy to their role.
func Example_instances() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Example"), nil)
	in := deploy.NewInstances(stack, jsii.String("Staging"), &deploy.InstancesProps{TagKey: jsii.String("Environment"), TagValue: jsii.String("staging")})
	fmt.Println(in.URL() == nil)
	// Output: true
}

// Example_existing releases with a deployment group that another stack or team owns.
func Example_existing() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Example"), nil)
	app := awscodedeploy.ServerApplication_FromServerApplicationName(stack, jsii.String("App"), jsii.String("shop"))
	group := awscodedeploy.ServerDeploymentGroup_FromServerDeploymentGroupAttributes(stack, jsii.String("Group"), &awscodedeploy.ServerDeploymentGroupAttributes{
		Application: app, DeploymentGroupName: jsii.String("shop-prod"),
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
	stack := awscdk.NewStack(cdktest.NewApp(), jsii.String("Regional"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String(cdktest.Account), Region: jsii.String("eu-west-1")},
	})
	awscdk.Aspects_Of(stack).Add(cdknag.NewAwsSolutionsChecks(nil), nil)
	deploy.NewFleet(stack, jsii.String("Fleet"), nil)
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	s.Has(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", map[string]any{"LoadBalancerAttributes": cdktest.Arr(
		map[string]any{"Key": "access_logs.s3.enabled", "Value": "true"},
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
		"DefaultActions": []any{cdktest.Obj(map[string]any{"Type": "redirect", "RedirectConfig": cdktest.Obj(map[string]any{"Port": "443", "Protocol": "HTTPS"})})}})
	assert.Contains(t, cdktest.Resolve(stack, fleet.URL()), "https://")
}

func TestConfigNames(t *testing.T) {
	for name, want := range map[string]string{"OneAtATime": "CodeDeployDefault.OneAtATime", "HalfAtATime": "CodeDeployDefault.HalfAtATime", "AllAtOnce": "CodeDeployDefault.AllAtOnce"} {
		assert.Equal(t, want, *deploy.Config(name).DeploymentConfigName())
	}
	assert.Panics(t, func() { deploy.Config("TwoAtATime") })
}

func TestBeanstalkNeedsBothNames(t *testing.T) {
	assert.Panics(t, func() {
		deploy.NewBeanstalk(cdktest.NewStack("B"), jsii.String("B"), &deploy.BeanstalkProps{Application: jsii.String("app")})
	})
	assert.Panics(t, func() { deploy.NewBeanstalk(cdktest.NewStack("B"), jsii.String("B"), nil) })
}
