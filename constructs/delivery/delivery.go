// Package delivery measures how a pipeline delivers, with DORA's four keys per environment
// (deploy stage): deployment frequency, lead time for changes, change failure rate and time to
// restore. A small Go function (package function, which documents exactly what is measured)
// computes them from the pipeline's own EventBridge events, with no polling, keeps its state in
// a DynamoDB table, and writes CloudWatch metrics; a dashboard shows them.
package delivery

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/gofunc"
	"github.com/pipekit/cdk-pipeline/internal/guard"
	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// FunctionPackage is the Go main package of the function that computes the measures.
const FunctionPackage = "github.com/pipekit/cdk-pipeline/constructs/delivery/function"

// DefaultNamespace is the CloudWatch namespace of the metrics unless Props.Namespace says
// otherwise.
const DefaultNamespace = "CdkPipeline/Delivery"

// The metrics, each with the dimensions Pipeline and Stage.
const (
	// Deployments counts the deploys of releases that ended, succeeded or failed.
	Deployments = "Deployments"
	// FailedDeployments counts those that failed or were rolled back.
	FailedDeployments = "FailedDeployments"
	// LeadTime is, per change, the seconds from the start of its pipeline execution to its
	// successful deploy.
	LeadTime = "LeadTime"
	// TimeToRestore is, per outage, the seconds from the first failure to the next successful
	// deploy.
	TimeToRestore = "TimeToRestore"
)

// Props configures a Delivery.
type Props struct {
	// Pipeline is the pipeline whose events are measured. Required.
	Pipeline awscodepipeline.IPipeline
	// Stages are the deploy stages whose deployments count, one per environment, in the order
	// the dashboard shows them. Required.
	Stages []string
	// Key encrypts the state table and the function's logs.
	// Default: a new customer-managed key with rotation on.
	Key awskms.IKey
	// DeadLetterQueue keeps events that EventBridge could not deliver to the function, and events
	// the function failed on.
	// Default: a new encrypted queue that keeps messages 14 days.
	DeadLetterQueue awssqs.IQueue
	// Namespace is the CloudWatch namespace of the metrics.
	// Default: DefaultNamespace.
	Namespace *string
	// Period is the time range the dashboard opens on.
	// Default: 30 days.
	Period awscdk.Duration
}

// Delivery is the function, its state table, the rules that feed it, and the dashboard.
type Delivery struct {
	constructs.Construct
	// Table keeps the function's state, one item per pipeline.
	Table awsdynamodb.Table
	// Function computes the measures from the events.
	Function awslambda.Function
	// Dashboard shows the four measures per environment.
	Dashboard awscloudwatch.Dashboard

	pipeline  awscodepipeline.IPipeline
	namespace string
}

// New creates a Delivery. It panics when Pipeline or Stages is missing.
func New(scope constructs.Construct, id *string, props *Props) *Delivery {
	if props == nil {
		props = &Props{}
	}
	guard.Required("delivery.New", "Pipeline", props.Pipeline == nil)
	guard.Required("delivery.New", "Stages", len(props.Stages) == 0)
	d := &Delivery{pipeline: props.Pipeline, namespace: DefaultNamespace}
	if props.Namespace != nil {
		d.namespace = *props.Namespace
	}
	constructs.NewConstruct_Override(d, scope, id)
	key, dlq := props.Key, props.DeadLetterQueue
	if key == nil {
		key = secure.NewKey(d, "Key", "Encrypts the delivery metrics' state and logs.")
	}
	if dlq == nil {
		dlq = secure.NewDeadLetterQueue(d, "DeadLetters")
	}

	// Derived data: the metrics keep the history, and a new table only misses what was in flight.
	d.Table = awsdynamodb.NewTable(d, jsii.String("State"), &awsdynamodb.TableProps{
		PartitionKey:  &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:   awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:    awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey: key,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})

	fn := gofunc.New(d, jsii.String("Function"), &gofunc.Props{
		Package:     FunctionPackage,
		Description: jsii.String("Computes deployment frequency, lead time, change failure rate and time to restore from the pipeline's events."),
		// Made here, where it always was, so that the retained group keeps its logical id.
		Logs: secure.NewLogGroup(d, "Logs", key, awslogs.RetentionDays_ONE_YEAR),
		Environment: &map[string]*string{
			"PIPELINE":  props.Pipeline.PipelineName(),
			"STAGES":    jsii.String(strings.Join(props.Stages, ",")),
			"TABLE":     d.Table.TableName(),
			"NAMESPACE": jsii.String(d.namespace),
		},
		// A failed invocation (the table refused, an unreadable event) is tried twice more, then
		// kept in the dead-letter queue; redriving it later counts it then.
		DeadLetterQueue: dlq,
	})
	d.Function = fn.Lambda
	// The two calls the function makes, and the key actions the library grants for reading and
	// writing a table encrypted with a customer-managed key.
	d.Table.Grant(fn.Role, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:PutItem"))
	key.Grant(fn.Role, jsii.String("kms:Decrypt"), jsii.String("kms:DescribeKey"), jsii.String("kms:Encrypt"),
		jsii.String("kms:ReEncrypt*"), jsii.String("kms:GenerateDataKey*"))

	// Three rules, each for the events the function reads: every pipeline execution state, the
	// deploy stages' ends, and the source action's success, which names the commit.
	base := []*string{props.Pipeline.PipelineName()}
	feed := func(id, description, detailType string, detail map[string]any) {
		detail["pipeline"] = base
		rule := awsevents.NewRule(d, jsii.String(id), &awsevents.RuleProps{
			Description: jsii.String(description),
			EventPattern: &awsevents.EventPattern{
				Source: jsii.Strings("aws.codepipeline"), DetailType: jsii.Strings(detailType), Detail: &detail,
			},
		})
		// EventBridge's most: 185 tries over a day, then the dead-letter queue.
		rule.AddTarget(awseventstargets.NewLambdaFunction(d.Function, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: jsii.Number(185), MaxEventAge: awscdk.Duration_Hours(jsii.Number(24)), DeadLetterQueue: dlq,
		}))
	}
	feed("Executions", "Pipeline executions, for the delivery metrics.", "CodePipeline Pipeline Execution State Change", map[string]any{})
	feed("Deploys", "Deploy stages that ended, for the delivery metrics.", "CodePipeline Stage Execution State Change", map[string]any{
		"stage": props.Stages, "state": []string{"SUCCEEDED", "FAILED"},
	})
	feed("Commits", "Source actions that read a commit, for the delivery metrics.", "CodePipeline Action Execution State Change", map[string]any{
		"type": map[string]any{"category": []string{"Source"}}, "state": []string{"SUCCEEDED"},
	})
	secure.SuppressPolicies(fn.Role, "AwsSolutions-IAM5", "kms:ReEncrypt* and kms:GenerateDataKey* are the KMS action families the library grants for a table encrypted with a customer-managed key; the grant names that key only.",
		"Action::kms:ReEncrypt*", "Action::kms:GenerateDataKey*")

	period := props.Period
	if period == nil {
		period = awscdk.Duration_Days(jsii.Number(30))
	}
	d.Dashboard = awscloudwatch.NewDashboard(d, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DefaultInterval: period,
		Widgets:         d.widgets(props.Stages),
	})
	return d
}

// Metric returns one of the metrics (Deployments, FailedDeployments, LeadTime, TimeToRestore) of
// a deploy stage, for alarms and other dashboards.
func (d *Delivery) Metric(name, stage string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	if opts == nil {
		opts = &awscloudwatch.MetricOptions{}
	}
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(d.namespace), MetricName: jsii.String(name),
		DimensionsMap: &map[string]*string{"Pipeline": d.pipeline.PipelineName(), "Stage": jsii.String(stage)},
		Statistic:     opts.Statistic, Period: opts.Period, Label: opts.Label, Unit: opts.Unit,
	})
}

// DashboardURL is the dashboard in the CloudWatch console.
func (d *Delivery) DashboardURL() *string {
	return jsii.String("https://" + *awscdk.Aws_REGION() + ".console.aws.amazon.com/cloudwatch/home?region=" +
		*awscdk.Aws_REGION() + "#dashboards/dashboard/" + *d.Dashboard.DashboardName())
}

// widgets lays out the dashboard: what the numbers mean, then per environment a row of four
// graphs by day and a row of four numbers over the whole time range.
func (d *Delivery) widgets(stages []string) *[]*[]awscloudwatch.IWidget {
	day := awscdk.Duration_Days(jsii.Number(1))
	text := awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{Width: jsii.Number(24), Height: jsii.Number(3), Markdown: jsii.String(
		"# Delivery of pipeline " + *d.pipeline.PipelineName() + "\n" +
			"DORA's four keys per environment, from the pipeline's events. **Deployments**: deploys of releases that ended (not rollbacks). " +
			"**Lead time**: from the start of the pipeline execution that first carried a commit to its successful deploy. " +
			"**Change failure rate**: deploys that failed or were rolled back, of all deploys. " +
			"**Time to restore**: from the first failure to the next successful deploy. Graphs are per day; numbers cover the whole time range.")})
	rows := []*[]awscloudwatch.IWidget{{text}}
	for _, stage := range stages {
		m := func(name, stat string, period awscdk.Duration) awscloudwatch.Metric {
			return d.Metric(name, stage, &awscloudwatch.MetricOptions{Statistic: jsii.String(stat), Period: period})
		}
		hours := func(id, label string, metric awscloudwatch.IMetric, period awscdk.Duration) awscloudwatch.IMetric {
			return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression: jsii.String(id + " / 3600"), UsingMetrics: &map[string]awscloudwatch.IMetric{id: metric},
				Label: jsii.String(label), Period: period,
			})
		}
		rate := func(period awscdk.Duration) awscloudwatch.IMetric {
			return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression:   jsii.String("IF(d > 0, 100 * FILL(f, 0) / d, 0)"),
				UsingMetrics: &map[string]awscloudwatch.IMetric{"d": m(Deployments, "Sum", period), "f": m(FailedDeployments, "Sum", period)},
				Label:        jsii.String("change failure rate (%)"), Period: period,
			})
		}
		graph := func(title, unit string, metrics ...awscloudwatch.IMetric) awscloudwatch.IWidget {
			return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String(fmt.Sprintf("%s: %s", stage, title)), Width: jsii.Number(6), Height: jsii.Number(6),
				Left: &metrics, LeftYAxis: &awscloudwatch.YAxisProps{Label: jsii.String(unit), Min: jsii.Number(0), ShowUnits: jsii.Bool(false)},
				Period: day,
			})
		}
		number := func(title string, metric awscloudwatch.IMetric) awscloudwatch.IWidget {
			return awscloudwatch.NewSingleValueWidget(&awscloudwatch.SingleValueWidgetProps{
				Title: jsii.String(fmt.Sprintf("%s: %s", stage, title)), Width: jsii.Number(6), Height: jsii.Number(3),
				Metrics: &[]awscloudwatch.IMetric{metric}, SetPeriodToTimeRange: jsii.Bool(true),
			})
		}
		rows = append(rows, &[]awscloudwatch.IWidget{
			graph("deployments per day", "deployments", m(Deployments, "Sum", day), m(FailedDeployments, "Sum", day)),
			graph("lead time for changes", "hours", hours("p50", "median", m(LeadTime, "p50", day), day), hours("p90", "90th percentile", m(LeadTime, "p90", day), day)),
			graph("change failure rate", "%", rate(day)),
			graph("time to restore", "hours", hours("avg", "average", m(TimeToRestore, "Average", day), day), hours("max", "longest", m(TimeToRestore, "Maximum", day), day)),
		}, &[]awscloudwatch.IWidget{
			number("deployments per day", awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression:   jsii.String("d / (PERIOD(d) / 86400)"),
				UsingMetrics: &map[string]awscloudwatch.IMetric{"d": m(Deployments, "Sum", day)},
				Label:        jsii.String("deployments per day"), Period: day,
			})),
			number("median lead time (hours)", hours("p50", "median lead time (hours)", m(LeadTime, "p50", day), day)),
			number("change failure rate (%)", rate(day)),
			number("median time to restore (hours)", hours("p50", "median time to restore (hours)", m(TimeToRestore, "p50", day), day)),
		})
	}
	return &rows
}
