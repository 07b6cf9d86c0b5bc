// Package delivery measures how a pipeline delivers, with DORA's five software delivery metrics
// per environment (deploy stage): deployment frequency (and deployment days), change lead time,
// change failure rate, failed deployment recovery time and deployment rework rate, with the deploy
// success rate beside them. A small Go function computes them from the pipeline's own EventBridge
// events and the environments' alarms, with no polling (package dora says exactly what is
// measured), reads commit dates from the CodeCommit repository, keeps its state in a DynamoDB
// table, and writes CloudWatch metrics; a dashboard shows them, and an EventBridge archive keeps
// the events, so that cmd/dora-replay can compute the past again.
package delivery

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
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

	"github.com/pipekit/cdk-pipeline/constructs/delivery/dora"
	"github.com/pipekit/cdk-pipeline/internal/gofunc"
	"github.com/pipekit/cdk-pipeline/internal/hint"
	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// FunctionPackage is the Go main package of the function that computes the measures.
const FunctionPackage = "github.com/pipekit/cdk-pipeline/constructs/delivery/function"

// DefaultNamespace is the CloudWatch namespace of the metrics unless Props.Namespace says
// otherwise.
const DefaultNamespace = "CdkPipeline/Delivery"

// DefaultArchiveDays is how long the archive keeps the events unless Props.ArchiveRetention says
// otherwise: more than a year, to compare a quarter with the same one a year before.
const DefaultArchiveDays = 400

// The metrics, each with the dimensions Pipeline and Stage (package dora defines them).
const (
	// Deployments counts successful deployments: a stage's deploy action that succeeded, of a
	// release or of a rollback.
	Deployments = dora.Deployments
	// DeploymentDays counts the UTC days with a deployment, one a day.
	DeploymentDays = dora.DeploymentDays
	// FailedAttempts counts deploy actions that failed: no deployment, and no change failure.
	FailedAttempts = dora.FailedAttempts
	// FailedDeployments counts deployments that failed afterwards, dated at the deployment.
	FailedDeployments = dora.FailedDeployments
	// ReworkDeployments counts rollbacks and deployments made while a failure was open.
	ReworkDeployments = dora.ReworkDeployments
	// LeadTime is, per commit, the seconds from its commit to its deployment's success.
	LeadTime = dora.LeadTime
	// PipelineLeadTime is, per deployment of a release, the seconds from its execution's start.
	PipelineLeadTime = dora.PipelineLeadTime
	// RecoveryTime is, per failure, the seconds from the failed deployment to the restore.
	RecoveryTime = dora.RecoveryTime
)

// Props configures a Delivery.
type Props struct {
	// Pipeline is the pipeline whose events are measured. Required.
	Pipeline awscodepipeline.IPipeline
	// Stages are the deploy stages whose deployments count, one per environment, in the order
	// the dashboard shows them: stages of Pipeline with a deploy action (checked at synthesis when
	// Pipeline is a Pipeline of this app). Required.
	Stages []string
	// Repository is the CodeCommit repository whose commits the pipeline deploys: the function
	// reads each commit's date and parents with codecommit:GetCommit.
	// Default: none; only the pipeline lead time is measured, not the lead time from the commit.
	Repository awscodecommit.IRepository
	// Alarms are, per deploy stage, the alarms of its environment: one going into ALARM while no
	// deploy runs there fails the environment's last deployment, and their return to OK restores
	// it. They must be in this construct's account and region, where EventBridge delivers their
	// state changes.
	// Default: none; failures are found by the stages' rollbacks and bakes only.
	Alarms map[string][]awscloudwatch.IAlarm
	// ArchiveRetention is how long an EventBridge archive keeps the events the metrics are computed
	// from, for a replay after a change of definitions; a zero Duration keeps no archive.
	// Default: DefaultArchiveDays days.
	ArchiveRetention awscdk.Duration
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

// Delivery is the function, its state table, the rules that feed it, the archive and the
// dashboard.
type Delivery struct {
	constructs.Construct
	// Table keeps the function's state, one item per pipeline.
	Table awsdynamodb.Table
	// Function computes the measures from the events.
	Function awslambda.Function
	// Archive keeps the events the measures are computed from; nil without one.
	Archive awsevents.Archive
	// Dashboard shows the five measures per environment.
	Dashboard awscloudwatch.Dashboard

	pipeline  awscodepipeline.IPipeline
	namespace string
}

// New creates a Delivery. Without Pipeline or Stages it panics with one line naming them; a stage
// that is not a deploy stage of the pipeline, or an alarm of another account or region, fails the
// synthesis with a line naming it.
func New(scope constructs.Construct, id *string, props *Props) *Delivery {
	if props == nil {
		props = &Props{}
	}
	var missing []string
	if props.Pipeline == nil {
		missing = append(missing, "props.Pipeline")
	}
	if len(props.Stages) == 0 {
		missing = append(missing, "props.Stages")
	}
	switch len(missing) {
	case 1:
		panic("delivery.New: " + missing[0] + " is required")
	case 2:
		panic("delivery.New: props.Pipeline and props.Stages are required")
	}
	d := &Delivery{pipeline: props.Pipeline, namespace: DefaultNamespace}
	if props.Namespace != nil {
		d.namespace = *props.Namespace
	}
	constructs.NewConstruct_Override(d, scope, id)
	d.Node().AddValidation(&validation{d: d, props: *props})
	key, dlq := props.Key, props.DeadLetterQueue
	if key == nil {
		key = secure.NewKey(d, "Key", "Encrypts the delivery metrics' state and logs.")
	}
	if dlq == nil {
		dlq = secure.NewDeadLetterQueue(d, "DeadLetters")
	}

	// Derived data: the metrics and the archive keep the history, and a new table only misses
	// what was in flight.
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

	alarmNames := map[string][]*string{}
	var alarmArns []*string
	for _, stage := range props.Stages {
		for _, a := range props.Alarms[stage] {
			alarmNames[stage] = append(alarmNames[stage], a.AlarmName())
			alarmArns = append(alarmArns, a.AlarmArn())
		}
	}
	environment := map[string]*string{
		"PIPELINE":  props.Pipeline.PipelineName(),
		"STAGES":    jsii.String(strings.Join(props.Stages, ",")),
		"TABLE":     d.Table.TableName(),
		"NAMESPACE": jsii.String(d.namespace),
	}
	if len(alarmNames) > 0 {
		environment["ALARMS"] = awscdk.Stack_Of(d).ToJsonString(alarmNames, nil)
	}
	if props.Repository != nil {
		environment["REPOSITORY"] = props.Repository.RepositoryName()
	}
	fn := gofunc.New(d, jsii.String("Function"), &gofunc.Props{
		Package:     FunctionPackage,
		Description: jsii.String("Computes DORA's five delivery metrics per environment from the pipeline's events and the environments' alarms."),
		// Made here, where it always was, so that the retained group keeps its logical id.
		Logs:        secure.NewLogGroup(d, "Logs", key, awslogs.RetentionDays_ONE_YEAR),
		Environment: &environment,
		// A failed invocation (the table or CodeCommit refused, an unreadable event) is tried twice
		// more, then kept in the dead-letter queue; redriving it later counts it then.
		DeadLetterQueue: dlq,
	})
	d.Function = fn.Lambda
	// The calls the function makes, and the key actions the library grants for reading and
	// writing a table encrypted with a customer-managed key.
	d.Table.Grant(fn.Role, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:PutItem"))
	key.Grant(fn.Role, jsii.String("kms:Decrypt"), jsii.String("kms:DescribeKey"), jsii.String("kms:Encrypt"),
		jsii.String("kms:ReEncrypt*"), jsii.String("kms:GenerateDataKey*"))
	if props.Repository != nil {
		props.Repository.Grant(fn.Role, jsii.String("codecommit:GetCommit"))
	}

	// The rules, each for the events the function reads: executions' starts (a rollback's names
	// its trigger), the deploy stages' runs, the source action's success (the commit), the deploy
	// actions' results, and the environments' alarms.
	pipelineName := []*string{props.Pipeline.PipelineName()}
	feed := func(id, description, source, detailType string, detail map[string]any) {
		rule := awsevents.NewRule(d, jsii.String(id), &awsevents.RuleProps{
			Description: jsii.String(description),
			EventPattern: &awsevents.EventPattern{
				Source: jsii.Strings(source), DetailType: jsii.Strings(detailType), Detail: &detail,
			},
		})
		attempts, age := secure.RetryForADay()
		rule.AddTarget(awseventstargets.NewLambdaFunction(d.Function, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: attempts, MaxEventAge: age, DeadLetterQueue: dlq,
		}))
	}
	feed("Executions", "Pipeline executions that started, for the delivery metrics.", dora.PipelineSource, dora.PipelineExecution, map[string]any{
		"pipeline": pipelineName, "state": []string{"STARTED"},
	})
	feed("Deploys", "Deploy stages that started or ended, for the delivery metrics.", dora.PipelineSource, dora.StageExecution, map[string]any{
		"pipeline": pipelineName, "stage": props.Stages, "state": []string{"STARTED", "SUCCEEDED", "FAILED"},
	})
	feed("Commits", "Source actions that read a commit, for the delivery metrics.", dora.PipelineSource, dora.ActionExecution, map[string]any{
		"pipeline": pipelineName, "type": map[string]any{"category": []string{dora.SourceCategory}}, "state": []string{"SUCCEEDED"},
	})
	feed("DeployActions", "Deploy actions that succeeded or failed, for the delivery metrics.", dora.PipelineSource, dora.ActionExecution, map[string]any{
		"pipeline": pipelineName, "stage": props.Stages, "type": map[string]any{"category": []string{dora.DeployCategory}}, "state": []string{"SUCCEEDED", "FAILED"},
	})
	if len(alarmArns) > 0 {
		var names []*string
		for _, stage := range props.Stages {
			names = append(names, alarmNames[stage]...)
		}
		feed("Alarms", "The environments' alarms changing state, for the delivery metrics.", dora.AlarmSource, dora.AlarmStateChange, map[string]any{
			"alarmName": names,
		})
	}
	secure.SuppressPolicies(fn.Role, "AwsSolutions-IAM5", "kms:ReEncrypt* and kms:GenerateDataKey* are the KMS action families the library grants for a table encrypted with a customer-managed key; the grant names that key only.",
		"Action::kms:ReEncrypt*", "Action::kms:GenerateDataKey*")

	retention := props.ArchiveRetention
	if retention == nil {
		retention = awscdk.Duration_Days(jsii.Number(DefaultArchiveDays))
	}
	if *retention.ToDays(nil) > 0 {
		resources := append([]*string{props.Pipeline.PipelineArn()}, alarmArns...)
		// The events the rules feed the function, by the resources they are about: the pipeline's
		// (stage and action events of every stage, so that another definition can use them) and the
		// alarms'. EventBridge archives the default bus's events, replayed ones excepted.
		d.Archive = awsevents.NewArchive(d, jsii.String("Archive"), &awsevents.ArchiveProps{
			SourceEventBus: awsevents.EventBus_FromEventBusName(d, jsii.String("DefaultBus"), jsii.String("default")),
			Description:    jsii.String("The events of the delivery metrics, for a replay after a change of definitions (docs/metrics.md)."),
			EventPattern: &awsevents.EventPattern{
				Source:     jsii.Strings(dora.PipelineSource, dora.AlarmSource),
				DetailType: jsii.Strings(dora.PipelineExecution, dora.StageExecution, dora.ActionExecution, dora.AlarmStateChange),
				Resources:  &resources,
			},
			Retention: retention,
		})
	}

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

// validation checks the props against the pipeline and the stack once the app is complete: the
// stages may be added to the pipeline after New.
type validation struct {
	d     *Delivery
	props Props
}

// Validate returns a line per problem.
func (v *validation) Validate() *[]*string {
	var out []*string
	problem := func(format string, args ...any) {
		out = append(out, jsii.String("delivery: "+fmt.Sprintf(format, args...)))
	}
	if p, ok := v.props.Pipeline.(awscodepipeline.Pipeline); ok {
		deploys := map[string]bool{}
		var names []string
		for _, st := range *p.Stages() {
			name := *st.StageName()
			names = append(names, name)
			for _, a := range *st.Actions() {
				if a.ActionProperties().Category == awscodepipeline.ActionCategory_DEPLOY {
					deploys[name] = true
				}
			}
		}
		for _, stage := range v.props.Stages {
			switch {
			case !slices.Contains(names, stage):
				msg := fmt.Sprintf("Stages: %q is not a stage of the pipeline, whose stages are %s", stage, strings.Join(names, ", "))
				if near := hint.Nearest(stage, names); near != "" {
					msg += fmt.Sprintf("; did you mean %q?", near)
				}
				problem("%s", msg)
			case !deploys[stage]:
				problem("Stages: stage %q has no deploy action, so it would never count a deployment", stage)
			}
		}
	}
	here := awscdk.Stack_Of(v.d)
	for stage, alarms := range v.props.Alarms {
		if !slices.Contains(v.props.Stages, stage) {
			problem("Alarms: %q is not one of Stages (%s)", stage, strings.Join(v.props.Stages, ", "))
		}
		for _, a := range alarms {
			// An imported alarm's environment is its ARN's.
			arn := awscdk.Arn_Split(a.AlarmArn(), awscdk.ArnFormat_COLON_RESOURCE_NAME)
			if awscdk.Token_CompareStrings(arn.Account, here.Account()) == awscdk.TokenComparison_DIFFERENT() ||
				awscdk.Token_CompareStrings(arn.Region, here.Region()) == awscdk.TokenComparison_DIFFERENT() {
				problem("Alarms: an alarm of %s is in %s %s; EventBridge delivers its state changes there, not to this stack's %s %s",
					stage, *arn.Account, *arn.Region, *here.Account(), *here.Region())
			}
		}
	}
	return &out
}

// Metric returns one of the metrics (Deployments, FailedDeployments, LeadTime, RecoveryTime, ...)
// of a deploy stage, for alarms and other dashboards.
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

// widgets lays out the dashboard: what the numbers mean, then per environment a row of numbers
// over the whole time range and a row of graphs by day (by week for deployment days).
func (d *Delivery) widgets(stages []string) *[]*[]awscloudwatch.IWidget {
	day, week := awscdk.Duration_Days(jsii.Number(1)), awscdk.Duration_Days(jsii.Number(7))
	text := awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{Width: jsii.Number(24), Height: jsii.Number(4), Markdown: jsii.String(
		"# Delivery of pipeline " + *d.pipeline.PipelineName() + "\n" +
			"DORA's five software delivery metrics per environment, from the pipeline's events and the environment's alarms (docs/metrics.md). " +
			"**Deployment frequency**: successful deployments (rollbacks included), and the days with one. " +
			"**Change lead time**: from each commit to its deploy action's success (the bake not included); the pipeline lead time starts at the execution. " +
			"**Change failure rate**: deployments that failed afterwards (a rollback, the bake's alarm, an alarm while no deploy ran), of all deployments; failed deploy attempts count in the deploy success rate instead. " +
			"**Failed deployment recovery time**: from the failed deployment to the restore (the next successful deployment, or the alarms back to OK). " +
			"**Deployment rework rate**: rollbacks and deployments made while a failure was open, of all deployments. " +
			"Numbers cover the whole time range; graphs are per day.")})
	rows := []*[]awscloudwatch.IWidget{{text}}
	for _, stage := range stages {
		m := func(name, stat string, period awscdk.Duration) awscloudwatch.Metric {
			return d.Metric(name, stage, &awscloudwatch.MetricOptions{Statistic: jsii.String(stat), Period: period})
		}
		labeled := func(label, name string, period awscdk.Duration) awscloudwatch.IMetric {
			return d.Metric(name, stage, &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period, Label: jsii.String(label)})
		}
		expr := func(label, expression string, period awscdk.Duration, using map[string]awscloudwatch.IMetric) awscloudwatch.IMetric {
			return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression: jsii.String(expression), UsingMetrics: &using, Label: jsii.String(label), Period: period,
			})
		}
		hours := func(id, label, stat, metric string, period awscdk.Duration) awscloudwatch.IMetric {
			return expr(label, id+" / 3600", period, map[string]awscloudwatch.IMetric{id: m(metric, stat, period)})
		}
		// A share of deployments, in percent; ids differ per use, as one widget may hold several.
		share := func(id, label, metric string, period awscdk.Duration) awscloudwatch.IMetric {
			return expr(label, fmt.Sprintf("IF(%sd > 0, 100 * FILL(%sf, 0) / %sd, 0)", id, id, id), period, map[string]awscloudwatch.IMetric{
				id + "d": m(Deployments, "Sum", period), id + "f": m(metric, "Sum", period),
			})
		}
		graph := func(title, unit string, metrics ...awscloudwatch.IMetric) awscloudwatch.IWidget {
			return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String(fmt.Sprintf("%s: %s", stage, title)), Width: jsii.Number(6), Height: jsii.Number(6),
				Left: &metrics, LeftYAxis: &awscloudwatch.YAxisProps{Label: jsii.String(unit), Min: jsii.Number(0), ShowUnits: jsii.Bool(false)},
				Period: day,
			})
		}
		numbers := awscloudwatch.NewSingleValueWidget(&awscloudwatch.SingleValueWidgetProps{
			Title: jsii.String(fmt.Sprintf("%s: over the time range", stage)), Width: jsii.Number(24), Height: jsii.Number(3),
			SetPeriodToTimeRange: jsii.Bool(true),
			Metrics: &[]awscloudwatch.IMetric{
				expr("deployments per day", "nd / (PERIOD(nd) / 86400)", day, map[string]awscloudwatch.IMetric{"nd": m(Deployments, "Sum", day)}),
				expr("deployment days per week", "nw / (PERIOD(nw) / 604800)", day, map[string]awscloudwatch.IMetric{"nw": m(DeploymentDays, "Sum", day)}),
				hours("nl", "median lead time (hours)", "p50", LeadTime, day),
				share("nc", "change failure rate (%)", FailedDeployments, day),
				hours("nr", "median recovery time (hours)", "p50", RecoveryTime, day),
				share("nx", "rework rate (%)", ReworkDeployments, day),
				expr("deploy success rate (%)", "IF(ns + nf > 0, 100 * FILL(ns, 0) / (FILL(ns, 0) + FILL(nf, 0)), 0)", day, map[string]awscloudwatch.IMetric{
					"ns": m(Deployments, "Sum", day), "nf": m(FailedAttempts, "Sum", day),
				}),
			},
		})
		rows = append(rows, &[]awscloudwatch.IWidget{numbers}, &[]awscloudwatch.IWidget{
			graph("deployment frequency", "count", labeled("deployments", Deployments, day), labeled("failed attempts", FailedAttempts, day),
				labeled("deployment days in the week", DeploymentDays, week)),
			graph("change lead time", "hours", hours("lp50", "median", "p50", LeadTime, day), hours("lp90", "90th percentile", "p90", LeadTime, day),
				hours("pp50", "pipeline lead time, median", "p50", PipelineLeadTime, day)),
			graph("change failure and rework rates", "%", share("gc", "change failure rate", FailedDeployments, day), share("gx", "rework rate", ReworkDeployments, day)),
			graph("failed deployment recovery time", "hours", hours("ravg", "average", "Average", RecoveryTime, day), hours("rmax", "longest", "Maximum", RecoveryTime, day)),
		})
	}
	return &rows
}
