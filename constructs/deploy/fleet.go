package deploy

import (
	_ "embed"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/guard"
	"github.com/pipekit/cdk-pipeline/internal/instancetype"
	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// agentInstall installs the CodeDeploy agent at first boot, with retries, and exits 0 only when it
// runs; the user data signals that status to CloudFormation.
//
//go:embed agent-install.sh
var agentInstall string

// FleetProps configures a Fleet. Nil props means all defaults.
type FleetProps struct {
	// Vpc is where the fleet and its load balancer run; it needs public subnets.
	// Default: a new VPC over two Availability Zones with public subnets only and no NAT gateway.
	Vpc awsec2.IVpc
	// InstanceType is the instances' type; it must be x86_64.
	// Default: t3.micro.
	InstanceType awsec2.InstanceType
	// Size is the number of instances.
	// Default: 2.
	Size *float64
	// Application is the CodeDeploy application the deployment group belongs to.
	// Default: a new server application.
	Application awscodedeploy.IServerApplication
	// DeploymentConfig is how many instances are updated at once.
	// Default: awscodedeploy.ServerDeploymentConfig_ONE_AT_A_TIME().
	DeploymentConfig awscodedeploy.IServerDeploymentConfig
	// ArtifactBucket holds the revisions; the instances may read it and nothing else.
	// Default: none; the instances get no artifact access, so pass the pipeline's bucket.
	ArtifactBucket awss3.IBucket
	// ArtifactKey encrypts the revisions; the instances may decrypt with it.
	// Default: none.
	ArtifactKey awskms.IKey
	// LogBucket receives the load balancer's access logs and the VPC's flow logs.
	// Default: a new log bucket.
	LogBucket awss3.IBucket
	// Port is where the application listens on each instance.
	// Default: 8080.
	Port *float64
	// HealthCheckPath is what the load balancer probes.
	// Default: "/health".
	HealthCheckPath *string
	// Name names the deployment group and the alarms (<Name>-ServerErrors, <Name>-SlowResponses).
	// A pipeline in another account or region needs names it can know when it is synthesized.
	// Default: names CloudFormation generates.
	Name *string
	// Certificate turns on HTTPS: port 443 with this certificate and ELB's recommended TLS 1.3
	// and 1.2 policy, and port 80 redirecting to it. Point a name the certificate covers at
	// LoadBalancer.
	// Default: none; HTTP on port 80, because a certificate needs a domain the stack cannot know.
	Certificate awscertificatemanager.ICertificate
}

// Fleet is an Auto Scaling group of EC2 instances behind an Application Load Balancer, released to
// by a CodeDeploy deployment group that takes each instance out of traffic while it is updated.
type Fleet struct {
	constructs.Construct
	// Vpc is where the fleet runs: FleetProps.Vpc or the new one.
	Vpc awsec2.IVpc
	// AutoScalingGroup keeps Size instances running.
	AutoScalingGroup awsautoscaling.AutoScalingGroup
	// LoadBalancer is the application's public endpoint.
	LoadBalancer awselasticloadbalancingv2.ApplicationLoadBalancer
	// TargetGroup holds the instances; CodeDeploy takes each out of it while updating it.
	TargetGroup awselasticloadbalancingv2.ApplicationTargetGroup
	// Group is the CodeDeploy deployment group.
	Group awscodedeploy.ServerDeploymentGroup
	// Alarms stop and roll back a deployment while they fire.
	Alarms []awscloudwatch.Alarm
	// InstanceRole is the instances' role.
	InstanceRole awsiam.Role
	certificate  awscertificatemanager.ICertificate
}

// NewFleet creates a Fleet. It panics when InstanceType is not an x86_64 type that aws-cdk-lib
// knows: the instances run x86_64 Amazon Linux 2023.
func NewFleet(scope constructs.Construct, id *string, props *FleetProps) *Fleet {
	if props == nil {
		props = &FleetProps{}
	}
	if props.InstanceType != nil {
		guard.Must("deploy.NewFleet: props.InstanceType", instancetype.Check(*props.InstanceType.ToString()))
	}
	f := &Fleet{Vpc: props.Vpc, certificate: props.Certificate}
	constructs.NewConstruct_Override(f, scope, id)
	logs := props.LogBucket
	if logs == nil {
		logs = secure.NewLogBucket(f, "Logs")
	}
	if f.Vpc == nil {
		f.Vpc = f.newVpc(logs, props.ArtifactKey)
	}
	f.InstanceRole = f.newInstanceRole(props.ArtifactBucket, props.ArtifactKey)
	template, userData := f.newLaunchTemplate(props.InstanceType)
	f.AutoScalingGroup = f.newAutoScalingGroup(template, userData, orNumber(props.Size, 2))
	f.LoadBalancer, f.TargetGroup = f.newLoadBalancer(logs, orNumber(props.Port, 8080), orString(props.HealthCheckPath, "/health"))
	f.Alarms = f.newAlarms(props.Name)
	f.Group = f.newDeploymentGroup(props, template)
	return f
}

// newVpc is the fleet's own VPC: public subnets in two zones, no NAT gateway, flow logs to logs.
// key encrypts the logs of the library's function that closes the default security group.
func (f *Fleet) newVpc(logs awss3.IBucket, key awskms.IKey) awsec2.Vpc {
	vpc := awsec2.NewVpc(f, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{
			Name: jsii.String("Public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24),
		}},
	})
	// The library closes the default security group with a Lambda-backed custom resource that
	// is a plain CfnResource, which cdk-nag in the app does not inspect but auditors of the
	// template do. Its function would log to an implicit group, unencrypted and kept forever.
	if provider := awscdk.Stack_Of(f).Node().TryFindChild(jsii.String("Custom::VpcRestrictDefaultSGCustomResourceProvider")); provider != nil {
		secure.Suppress(provider, "AwsSolutions-IAM4", "The library's provider for closing the VPC's default security group logs with AWSLambdaBasicExecutionRole, AWS's minimal policy for a function's own log stream.",
			secure.AWSManagedPolicy("service-role/AWSLambdaBasicExecutionRole"))
		provider.Node().FindChild(jsii.String("Handler")).(awscdk.CfnResource).AddPropertyOverride(
			jsii.String("LoggingConfig.LogGroup"), secure.CustomResourceLogs(f, key).LogGroupName())
	}
	if !*awscdk.Token_IsUnresolved(awscdk.Stack_Of(f).Region()) {
		// With a known region the library places subnets in the zones the CLI looked up
		// (cdk.context.json), so that they stay put across deploys; cfn-lint's W3010 objects
		// to any zone written out, so it is waived on these subnets alone.
		for _, subnet := range *vpc.PublicSubnets() {
			subnet.Node().DefaultChild().(awscdk.CfnResource).AddMetadata(jsii.String("cfn-lint"),
				map[string]any{"config": map[string]any{"ignore_checks": []string{"W3010"}}})
		}
	}
	vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
		Destination: awsec2.FlowLogDestination_ToS3(logs, jsii.String("flow-logs/"), nil),
	})
	return vpc
}

// newInstanceRole is the instances' role: Session Manager, and reading the revisions in bucket,
// encrypted with key.
func (f *Fleet) newInstanceRole(bucket awss3.IBucket, key awskms.IKey) awsiam.Role {
	role := awsiam.NewRole(f, jsii.String("InstanceRole"), &awsiam.RoleProps{
		// A name only when a pipeline in another account or region must name the role (the
		// library's CodeDeploy action lets it read the pipeline's bucket).
		RoleName:        awscdk.PhysicalName_GENERATE_IF_NEEDED(),
		AssumedBy:       awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		Description:     jsii.String("Fleet instances: Session Manager access and read-only access to the pipeline's artifacts."),
		ManagedPolicies: &[]awsiam.IManagedPolicy{awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonSSMManagedInstanceCore"))},
	})
	secure.Suppress(role, "AwsSolutions-IAM4", "AmazonSSMManagedInstanceCore is AWS's minimal policy for Session Manager, which replaces SSH and port 22.",
		secure.AWSManagedPolicy("AmazonSSMManagedInstanceCore"))
	grantArtifacts(role, bucket, key)
	return role
}

// newLaunchTemplate describes an instance: Amazon Linux 2023 of the type's architecture, IMDSv2
// only, an encrypted disk, no SSH, and user data, which newAutoScalingGroup fills: it installs the
// CodeDeploy agent and signals the group.
func (f *Fleet) newLaunchTemplate(instanceType awsec2.InstanceType) (awsec2.LaunchTemplate, awsec2.UserData) {
	if instanceType == nil {
		instanceType = awsec2.NewInstanceType(jsii.String("t3.micro"))
	}
	userData := awsec2.UserData_ForLinux(nil)
	template := awsec2.NewLaunchTemplate(f, jsii.String("LaunchTemplate"), &awsec2.LaunchTemplateProps{
		MachineImage:  awsec2.MachineImage_LatestAmazonLinux2023(&awsec2.AmazonLinux2023ImageSsmParameterProps{CpuType: cpuType(instanceType)}),
		InstanceType:  instanceType,
		Role:          f.InstanceRole,
		UserData:      userData,
		RequireImdsv2: jsii.Bool(true),
		BlockDevices: &[]*awsec2.BlockDevice{{
			DeviceName: jsii.String("/dev/xvda"),
			Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(16), &awsec2.EbsDeviceOptions{
				Encrypted: jsii.Bool(true), VolumeType: awsec2.EbsDeviceVolumeType_GP3, DeleteOnTermination: jsii.Bool(true),
			}),
		}},
		SecurityGroup: awsec2.NewSecurityGroup(f, jsii.String("InstanceSecurityGroup"), &awsec2.SecurityGroupProps{
			Vpc:         f.Vpc,
			Description: jsii.String("Fleet instances: only the load balancer may connect; no SSH."),
		}),
	})
	return template, userData
}

// newAutoScalingGroup keeps size instances of template running in the public subnets. Its
// creation waits for every instance's signal from userData, which installs the agent
// (agent-install.sh) and needs the group's logical id to signal without cfn-signal.
func (f *Fleet) newAutoScalingGroup(template awsec2.LaunchTemplate, userData awsec2.UserData, size *float64) awsautoscaling.AutoScalingGroup {
	group := awsautoscaling.NewAutoScalingGroup(f, jsii.String("Instances"), &awsautoscaling.AutoScalingGroupProps{
		Vpc:            f.Vpc,
		VpcSubnets:     &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		LaunchTemplate: template,
		MinCapacity:    size,
		MaxCapacity:    size,
		// EC2 status checks only: until the first release, which may wait on an approval for
		// hours, every instance fails the load balancer's health check, and ELB health checks
		// would replace them in a loop. A bad release is CodeDeploy's to roll back.
		HealthChecks: awsautoscaling.HealthChecks_Ec2(nil),
		// Created only when every instance runs the agent: the user data signals its status.
		Signals: awsautoscaling.Signals_WaitForAll(&awsautoscaling.SignalsOptions{Timeout: awscdk.Duration_Minutes(jsii.Number(15))}),
	})
	userData.AddSignalOnExitCommand(group)
	// What agent-install.sh needs, signalling without cfn-signal included: the region, and the
	// group's stack and logical id, as cfn-signal above names them.
	id := awscdk.Stack_Of(f).GetLogicalId(group.Node().DefaultChild().(awsautoscaling.CfnAutoScalingGroup))
	userData.AddCommands(jsii.String("region="+*awscdk.Aws_REGION()), jsii.String("url_suffix="+*awscdk.Aws_URL_SUFFIX()),
		jsii.String("stack="+*awscdk.Aws_STACK_NAME()), jsii.String("resource="+*id),
		jsii.String(strings.TrimPrefix(agentInstall, "#!/usr/bin/env bash\n")))
	secure.Suppress(group, "AwsSolutions-AS3", "Scaling events reach operators through the CodeDeploy and pipeline notifications; per-instance launch mail would be noise.")
	return group
}

// newLoadBalancer is the application's public endpoint, logging to logs where the region is
// known: HTTP on port 80, or with a certificate HTTPS on 443 and a redirect from 80. Its target
// group holds the Auto Scaling group's instances, probed at healthCheckPath on port.
func (f *Fleet) newLoadBalancer(logs awss3.IBucket, port *float64, healthCheckPath *string) (awselasticloadbalancingv2.ApplicationLoadBalancer, awselasticloadbalancingv2.ApplicationTargetGroup) {
	lb := awselasticloadbalancingv2.NewApplicationLoadBalancer(f, jsii.String("LoadBalancer"), &awselasticloadbalancingv2.ApplicationLoadBalancerProps{
		Vpc:                     f.Vpc,
		InternetFacing:          jsii.Bool(true),
		DropInvalidHeaderFields: jsii.Bool(true),
	})
	if *awscdk.Token_IsUnresolved(awscdk.Stack_Of(f).Region()) {
		secure.Suppress(lb, "AwsSolutions-ELB2", "Load balancer access logs need the region's log-delivery principal, which an environment-agnostic synth cannot know; a stack with a region (as cdk deploy gives it) logs to LogBucket.")
	} else {
		lb.LogAccessLogs(logs, jsii.String("load-balancer"))
	}
	var listener awselasticloadbalancingv2.ApplicationListener
	if f.certificate != nil {
		listener = lb.AddListener(jsii.String("Https"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
			Port: jsii.Number(443), Protocol: awselasticloadbalancingv2.ApplicationProtocol_HTTPS, Open: jsii.Bool(true),
			Certificates: &[]awselasticloadbalancingv2.IListenerCertificate{awselasticloadbalancingv2.ListenerCertificate_FromCertificateManager(f.certificate)},
			SslPolicy:    awselasticloadbalancingv2.SslPolicy_RECOMMENDED_TLS,
		})
		lb.AddRedirect(&awselasticloadbalancingv2.ApplicationLoadBalancerRedirectConfig{SourcePort: jsii.Number(80), TargetPort: jsii.Number(443)})
	} else {
		listener = lb.AddListener(jsii.String("Http"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
			Port: jsii.Number(80),
			Open: jsii.Bool(true),
		})
	}
	secure.Suppress(lb, "AwsSolutions-EC23", "The load balancer is the application's public endpoint; only it is open to the internet, and the instances accept traffic from it alone.")
	targets := listener.AddTargets(jsii.String("App"), &awselasticloadbalancingv2.AddApplicationTargetsProps{
		Port:     port,
		Protocol: awselasticloadbalancingv2.ApplicationProtocol_HTTP,
		Targets:  &[]awselasticloadbalancingv2.IApplicationLoadBalancerTarget{f.AutoScalingGroup},
		HealthCheck: &awselasticloadbalancingv2.HealthCheck{
			Path:                    healthCheckPath,
			Interval:                awscdk.Duration_Seconds(jsii.Number(10)),
			Timeout:                 awscdk.Duration_Seconds(jsii.Number(5)),
			HealthyThresholdCount:   jsii.Number(2),
			UnhealthyThresholdCount: jsii.Number(2),
		},
		// A short drain keeps OneAtATime releases quick; the app answers in milliseconds.
		DeregistrationDelay: awscdk.Duration_Seconds(jsii.Number(30)),
	})
	return lb, targets
}

// newAlarms watches the target group for server errors and slow responses; name, when given,
// prefixes their names. Both stay quiet while no traffic reaches the targets: before the first
// release the load balancer answers 503 itself, which is not a target error. An alarm on unhealthy
// hosts would fire then, and during the first rollout, and CodeDeploy would stop every release.
func (f *Fleet) newAlarms(name *string) []awscloudwatch.Alarm {
	period := awscdk.Duration_Minutes(jsii.Number(1))
	alarm := func(id string, metric awscloudwatch.Metric, description string, threshold, periods float64, comparison awscloudwatch.ComparisonOperator) awscloudwatch.Alarm {
		var alarmName *string
		if name != nil {
			alarmName = jsii.String(*name + "-" + id)
		}
		return metric.CreateAlarm(f, jsii.String(id), &awscloudwatch.CreateAlarmOptions{
			AlarmName:          alarmName,
			AlarmDescription:   jsii.String(description),
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(periods),
			ComparisonOperator: comparison,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
	}
	return []awscloudwatch.Alarm{
		alarm("ServerErrors", f.TargetGroup.Metrics().HttpCodeTarget(awselasticloadbalancingv2.HttpCodeTarget_TARGET_5XX_COUNT, &awscloudwatch.MetricOptions{
			Period: period, Statistic: jsii.String("Sum"),
		}), "The application answers with 5xx errors: roll the deployment back.", 10, 1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD),
		alarm("SlowResponses", f.TargetGroup.Metrics().TargetResponseTime(&awscloudwatch.MetricOptions{
			Period: period, Statistic: jsii.String("p99"),
		}), "The application's p99 response time is over 2 seconds for 3 minutes: roll the deployment back.", 2, 3, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD),
	}
}

// newDeploymentGroup is the CodeDeploy deployment group of the Auto Scaling group: it takes each
// instance out of the target group while updating it, and rolls back on failure, on a stop, and
// on the alarms. Its service role may launch instances from template.
func (f *Fleet) newDeploymentGroup(props *FleetProps, template awsec2.LaunchTemplate) awscodedeploy.ServerDeploymentGroup {
	group := newGroup(f, props.Application, props.DeploymentConfig, &awscodedeploy.ServerDeploymentGroupProps{
		DeploymentGroupName: props.Name,
		AutoScalingGroups:   &[]awsautoscaling.IAutoScalingGroup{f.AutoScalingGroup},
		// The fleet's own user data installs the agent: the library's gives up on the first
		// transient package-manager error and never signals.
		InstallAgent:    jsii.Bool(false),
		LoadBalancers:   &[]awscodedeploy.LoadBalancer{awscodedeploy.LoadBalancer_Application(f.TargetGroup)},
		Alarms:          toAlarmRefs(f.WatchedAlarms()),
		AutoRollback:    rollback(true),
		TerminationHook: jsii.Bool(true),
	})
	grantLaunchTemplate(group.Role(), template, f.InstanceRole)
	return group
}

// grantLaunchTemplate gives CodeDeploy's service role what AWS documents it needs for an Auto
// Scaling group with a launch template, scoped to this fleet: run instances from this launch
// template only, tag what that creates, and pass the instance role to EC2 alone.
func grantLaunchTemplate(codeDeploy awsiam.IRole, template awsec2.LaunchTemplate, instanceRole awsiam.IRole) {
	stack := awscdk.Stack_Of(template)
	codeDeploy.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ec2:RunInstances"),
		Resources: jsii.Strings("*"),
		Conditions: &map[string]any{"ArnEquals": map[string]any{"ec2:LaunchTemplate": stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("ec2"), Resource: jsii.String("launch-template"), ResourceName: template.LaunchTemplateId(),
		})}},
	}))
	codeDeploy.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("ec2:CreateTags"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"ec2:CreateAction": "RunInstances"}},
	}))
	codeDeploy.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("iam:PassRole"),
		Resources:  jsii.Strings(*instanceRole.RoleArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ec2.amazonaws.com"}},
	}))
	secure.SuppressPolicies(codeDeploy, "AwsSolutions-IAM5",
		"ec2:RunInstances and ec2:CreateTags act on every resource an instance launch touches (instance, volume, interface, subnet, image); the conditions limit them to launches from this fleet's launch template.",
		"Resource::*")
}

// NewAction returns a CodeDeploy action that releases input to the fleet.
func (f *Fleet) NewAction(name string, input awscodepipeline.Artifact) awscodepipeline.IAction {
	return newServerAction(name, input, f.Group)
}

// URL is the load balancer's address; with a Certificate, use a name the certificate covers.
func (f *Fleet) URL() *string {
	scheme := "http://"
	if f.certificate != nil {
		scheme = "https://"
	}
	return jsii.String(scheme + *f.LoadBalancer.LoadBalancerDnsName())
}

// DeploymentGroup is the fleet's deployment group.
func (f *Fleet) DeploymentGroup() awscodedeploy.IServerDeploymentGroup { return f.Group }

// Ready is the Auto Scaling group, created only once every instance runs the CodeDeploy agent.
func (f *Fleet) Ready() constructs.IDependable { return f.AutoScalingGroup }

// WatchedAlarms are the alarms a deploy stage may bake with: the load balancer's 5xx and slow
// responses.
func (f *Fleet) WatchedAlarms() []awscloudwatch.IAlarm {
	alarms := make([]awscloudwatch.IAlarm, len(f.Alarms))
	for i, a := range f.Alarms {
		alarms[i] = a
	}
	return alarms
}

// ReadArtifacts lets the instances read revisions from bucket and decrypt them with key (which
// may be nil), for example the bucket CodePipeline replicates artifacts to in the fleet's region.
func (f *Fleet) ReadArtifacts(bucket awss3.IBucket, key awskms.IKey) {
	grantArtifacts(f.InstanceRole, bucket, key)
}

// cpuType is the AMI architecture an instance type runs: an x86_64 AMI on a Graviton type fails the
// launch ("The architecture 'arm64' of the specified instance type does not match the architecture
// 'x86_64' of the specified AMI").
func cpuType(t awsec2.InstanceType) awsec2.AmazonLinuxCpuType {
	if t.Architecture() == awsec2.InstanceArchitecture_ARM_64 {
		return awsec2.AmazonLinuxCpuType_ARM_64
	}
	return awsec2.AmazonLinuxCpuType_X86_64
}

func newServerAction(name string, input awscodepipeline.Artifact, group awscodedeploy.IServerDeploymentGroup) awscodepipeline.IAction {
	return awscodepipelineactions.NewCodeDeployServerDeployAction(&awscodepipelineactions.CodeDeployServerDeployActionProps{
		ActionName:      jsii.String(name),
		Input:           input,
		DeploymentGroup: group,
	})
}

func orNumber(v *float64, fallback float64) *float64 {
	if v == nil {
		return &fallback
	}
	return v
}

func orString(v *string, fallback string) *string {
	if v == nil || *v == "" {
		return &fallback
	}
	return v
}
