package e2e

import (
	"fmt"
	"strings"
	"time"
)

// Plan is what a real run creates and how long it takes. The test prints it before it creates
// anything, so that whoever runs it knows the cost up front; the dry run checks it against the
// synthesized stack, so it cannot silently go stale.
type Plan struct {
	// Instances is the fleet the stack runs for the whole test.
	Instances Instances
	// BakeMinutes is how long each successful deploy stage waits on its alarms.
	BakeMinutes int
	// Costed lists every resource type of the stack that is charged for by itself, with its count.
	Costed []Resource
	// Free lists the other resource types of the stack: no charge of their own.
	Free []string
	// Phases estimates the run, in order.
	Phases []Phase
}

// Instances is an Auto Scaling group's fleet.
type Instances struct {
	// Type is the EC2 instance type.
	Type string
	// Count is the group's size, which is fixed.
	Count int
	// VolumeGiB is the size of each instance's root volume.
	VolumeGiB int
}

// Resource is a costed resource type of the stack.
type Resource struct {
	// Type is the CloudFormation resource type.
	Type string
	// Count is how many resources of the type the stack has.
	Count int
	// What says what is charged, and what outlives the stack.
	What string
}

// Phase is one step of the real run and how long it usually takes.
type Phase struct {
	// What the run does in the phase.
	What string
	// Minutes is how long it usually takes.
	Minutes int
}

// Expected is the usual length of a run: the sum of its phases.
func (p Plan) Expected() time.Duration {
	var d time.Duration
	for _, ph := range p.Phases {
		d += time.Duration(ph.Minutes) * time.Minute
	}
	return d
}

// Describe is the plan as the test prints it; longest is the most the test waits before it gives
// up and destroys the stack.
func (p Plan) Describe(stack string, longest time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "This run deploys the stack %s to the account of your credentials and destroys it at the end.\n", stack)
	fmt.Fprintf(&b, "Expected duration: about %s; the waits give up after %s in all, then the stack is destroyed.\n", p.Expected(), longest)
	for _, ph := range p.Phases {
		fmt.Fprintf(&b, "  %3d min  %s\n", ph.Minutes, ph.What)
	}
	fmt.Fprintf(&b, "It creates an SQS queue (the subscriber) and, in the stack, a fleet of %d EC2 %s instances (%d GiB gp3 each)\n",
		p.Instances.Count, p.Instances.Type, p.Instances.VolumeGiB)
	fmt.Fprintf(&b, "and these other resources that cost money while they exist:\n")
	for _, r := range p.Costed {
		fmt.Fprintf(&b, "  %2d x %-42s %s\n", r.Count, r.Type, r.What)
	}
	fmt.Fprintf(&b, "and resources of %d other types that cost nothing by themselves (roles, policies, network, rules).\n", len(p.Free))
	return b.String()
}

// Default is the plan of the default stack with the test's settings (approval=false, an sqs
// subscriber).
var Default = Plan{
	Instances:   Instances{Type: "t3.micro", Count: 2, VolumeGiB: 16},
	BakeMinutes: 10,
	Costed: []Resource{
		{"AWS::AutoScaling::AutoScalingGroup", 1, "the fleet, for the whole run"},
		{"AWS::ElasticLoadBalancingV2::LoadBalancer", 1, "an internet-facing Application Load Balancer, by the hour"},
		{"AWS::CodePipeline::Pipeline", 1, "a V2 pipeline, by action-execution minute"},
		{"AWS::CodeBuild::Project", 2, "builds on BUILD_GENERAL1_SMALL, by the minute (about 4 builds)"},
		{"AWS::CodeCommit::Repository", 1, "a repository; kept by destroy (-delete-retained deletes it)"},
		{"AWS::Lambda::Function", 4, "functions, by request (the stack's custom resources and event handlers)"},
		{"AWS::DynamoDB::Table", 1, "an on-demand table, by request"},
		{"AWS::Events::Archive", 1, "the delivery metrics' event archive, by GB archived"},
		{"AWS::KMS::Key", 2, "$1 a month each, prorated; kept by destroy (-delete-retained schedules their deletion)"},
		{"AWS::S3::Bucket", 2, "artifacts and logs, by GB; kept by destroy (-delete-retained empties and deletes them)"},
		{"AWS::Logs::LogGroup", 5, "logs, by GB; kept by destroy (-delete-retained deletes them)"},
		{"AWS::EC2::FlowLog", 1, "VPC flow logs to S3, by GB"},
		{"AWS::SNS::Topic", 2, "by message"},
		{"AWS::SQS::Queue", 3, "dead-letter queues, by request"},
		{"AWS::CloudWatch::Alarm", 2, "$0.10 an alarm-month, prorated"},
		{"AWS::CloudWatch::Dashboard", 1, "$3 a month beyond the free three, prorated"},
	},
	Free: []string{
		"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::Group", "AWS::IAM::InstanceProfile",
		"AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::RouteTable", "AWS::EC2::SubnetRouteTableAssociation",
		"AWS::EC2::Route", "AWS::EC2::InternetGateway", "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::SecurityGroup",
		"AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress", "AWS::EC2::LaunchTemplate",
		"AWS::ElasticLoadBalancingV2::Listener", "AWS::ElasticLoadBalancingV2::TargetGroup",
		"AWS::CodeDeploy::Application", "AWS::CodeDeploy::DeploymentGroup", "AWS::CodeBuild::ReportGroup",
		"AWS::Events::Rule", "AWS::Lambda::Permission", "AWS::Lambda::EventInvokeConfig",
		"AWS::SNS::Subscription", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy",
		"Custom::AWS", "Custom::VpcRestrictDefaultSG",
	},
	Phases: []Phase{
		{"deploy the stack (the fleet has 15 minutes to signal)", 20},
		{"first release: build, deploy, bake", 18},
		{"a pushed change: build, deploy, bake", 18},
		{"a broken release: build, failed deploy, CodeDeploy rollback, the stage's rollback and its bake", 25},
		{"read the queue", 1},
		{"destroy the stack", 15},
	},
}

// SelfUpdating is the plan of the pipeline that deploys itself (-c selfUpdate=true, Layout
// {SeedDir: "."}): the default's, with the update stage's and the infrastructure review's
// projects, logs and dead-letter queue; each release starts with the update stage, which finds
// nothing to deploy (the run changes only sample-app/).
var SelfUpdating = Default.with(map[string]int{
	"AWS::CodeBuild::Project": 4, "AWS::Logs::LogGroup": 7, "AWS::SQS::Queue": 4,
}, map[string]string{
	"AWS::CodeBuild::Project": "builds on BUILD_GENERAL1_SMALL and MEDIUM, by the minute (about 4 builds, 3 updates)",
})

// with is p with other counts, and descriptions, of some costed types.
func (p Plan) with(counts map[string]int, what map[string]string) Plan {
	out := p
	out.Costed = append([]Resource(nil), p.Costed...)
	for i, r := range out.Costed {
		if n, ok := counts[r.Type]; ok {
			out.Costed[i].Count = n
		}
		if w, ok := what[r.Type]; ok {
			out.Costed[i].What = w
		}
	}
	return out
}
