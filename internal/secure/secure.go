// Package secure holds the few defaults every construct package shares: how a customer-managed key
// is made, and how a cdk-nag finding is suppressed, so that five packages do it one way.
package secure

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Retained is the removal policy of everything that holds data: retained when the stack is deleted
// or the resource replaced, deleted when the stack create that made it rolls back
// (RetainExceptOnCreate). A failed first deploy then leaves nothing whose name blocks the retry, and
// no keys or log groups behind; a bucket that already holds objects cannot be deleted, stays, and
// is retained when the CDK CLI deletes the failed stack before its next try.
var Retained = awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE

// NewKey returns a customer-managed key with yearly rotation. It is Retained, because data it
// encrypted (artifacts, queued messages) may outlive the stack. Its policy
// denies grants except those AWS services create for their own resources (Control Tower
// CT.KMS.PR.3), so a principal with key access cannot hand it on to another.
func NewKey(scope constructs.Construct, id, description string) awskms.Key {
	key := awskms.NewKey(scope, jsii.String(id), &awskms.KeyProps{
		Description:       jsii.String(description),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     Retained,
	})
	DenyGrants(key)
	return key
}

// DenyGrants makes key's policy deny grants except those AWS services create for their own
// resources (Control Tower CT.KMS.PR.3); NewKey's keys have it, and keys the library makes may get
// it too.
func DenyGrants(key awskms.IKey) {
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("DenyGrantsExceptForAWSServices"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("kms:CreateGrant"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]interface{}{"BoolIfExists": map[string]string{
			"kms:GrantIsForAWSResource": "false",
			"aws:PrincipalIsAWSService": "false",
		}},
	}), nil)
}

// NewDeadLetterQueue returns an encrypted queue, TLS only, that keeps messages for the SQS maximum
// of 14 days so that an operator has time to inspect and redrive them.
func NewDeadLetterQueue(scope constructs.Construct, id string) awssqs.Queue {
	q := awssqs.NewQueue(scope, jsii.String(id), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	Suppress(q, "AwsSolutions-SQS3", "This queue is itself a dead-letter queue; a dead-letter queue of a dead-letter queue would only move the problem.")
	return q
}

// Suppress records, on one construct and its children, why a cdk-nag rule does not apply there.
// appliesTo narrows IAM4/IAM5 findings to the named policies, actions or resources; a string
// starting with "/" is a regular expression, as cdk-nag expects.
func Suppress(c constructs.IConstruct, rule, reason string, appliesTo ...string) {
	s := cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		list := make([]interface{}, len(appliesTo))
		for i, a := range appliesTo {
			if len(a) > 0 && a[0] == '/' {
				list[i] = &cdknag.RegexAppliesTo{Regex: jsii.String(a)}
			} else {
				list[i] = a
			}
		}
		s.AppliesTo = &list
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{&s}, jsii.Bool(true))
}

// NewLogBucket returns a Retained bucket for access and flow logs, which expire after a year.
// Its encryption is S3-managed because S3 server access logging and load balancer access logs
// cannot deliver to a bucket encrypted with a customer-managed KMS key.
func NewLogBucket(scope constructs.Construct, id string) awss3.Bucket {
	logs := awss3.NewBucket(scope, jsii.String(id), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Versioned:         jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     Retained,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                          jsii.String("ExpireLogs"),
			Expiration:                  awscdk.Duration_Days(jsii.Number(365)),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(30)),
		}},
	})
	Suppress(logs, "AwsSolutions-S1", "This is the log bucket itself; logging its own access would loop.")
	NotifyEventBridge(logs)
	return logs
}

// NotifyEventBridge sends the bucket's object events to EventBridge (Control Tower CT.S3.PR.4),
// where a team can watch for unexpected deletes. It sets the CloudFormation property directly:
// the library's EventBridgeEnabled would add a Lambda-backed custom resource for the same result.
func NotifyEventBridge(bucket awss3.Bucket) {
	bucket.Node().DefaultChild().(awss3.CfnBucket).AddPropertyOverride(
		jsii.String("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled"), true)
}

// CustomResourceLogs returns the stack's log group for the functions behind its custom resources:
// aws-cdk-lib's AwsCustomResource singleton and its VPC default-security-group provider. It is
// made on first use at the stack's root, encrypted with key (a new key when key is nil) and kept a
// year. One group serves every construct because the functions are shared: the first
// AwsCustomResource of a stack decides where the singleton logs.
func CustomResourceLogs(scope constructs.Construct, key awskms.IKey) awslogs.ILogGroup {
	stack := awscdk.Stack_Of(scope)
	if existing := stack.Node().TryFindChild(jsii.String("CustomResourceLogs")); existing != nil {
		return existing.(awslogs.ILogGroup)
	}
	if key == nil {
		key = NewKey(stack, "CustomResourceLogsKey", "Encrypts the logs of the stack's custom resource functions.")
	}
	return NewLogGroup(stack, "CustomResourceLogs", key, awslogs.RetentionDays_ONE_YEAR)
}

// NewAwsCustomResource creates an AwsCustomResource as every construct here makes one: its
// function logs to the stack's CustomResourceLogs (encrypted with key; see there), uses the SDK of
// its Lambda runtime instead of installing the latest at every call, and cdk-nag learns why the
// library's singleton function behind it uses an AWS managed policy. Suppressing with the
// creation, not after it, leaves no call to forget.
func NewAwsCustomResource(scope constructs.Construct, id string, key awskms.IKey, props *customresources.AwsCustomResourceProps) customresources.AwsCustomResource {
	withLogs := *props
	withLogs.LogGroup = CustomResourceLogs(scope, key)
	withLogs.InstallLatestAwsSdk = jsii.Bool(false)
	resource := customresources.NewAwsCustomResource(scope, jsii.String(id), &withLogs)
	Suppress(awscdk.Stack_Of(scope).Node().FindChild(jsii.String("AWS679f53fac002430cb0da5b7982bd2287")), "AwsSolutions-IAM4",
		"The library's custom resource function logs with AWSLambdaBasicExecutionRole, AWS's minimal policy for a function's own log stream.",
		AWSManagedPolicy("service-role/AWSLambdaBasicExecutionRole"))
	return resource
}

// RetryForADay is EventBridge's most for a rule target: 185 tries over 24 hours, after which the
// event goes to the target's dead-letter queue.
func RetryForADay() (attempts *float64, maxEventAge awscdk.Duration) {
	return jsii.Number(185), awscdk.Duration_Hours(jsii.Number(24))
}

// ArtifactGrants are the wildcards of the library's own grants on an artifact bucket and its key
// (bucket.GrantReadWrite, key.GrantEncryptDecrypt): object keys the pipeline picks at run time,
// and the KMS actions S3 needs for SSE-KMS.
var ArtifactGrants = []string{
	"Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:DeleteObject*", "Action::s3:Abort*",
	"Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*",
	`/^Resource::(<.+\.Arn>|arn:` + partition + `:s3:::[^\/<>*]+)\/\*$/g`,
}

// AliasedKeys is the appliesTo entry for the library's grant on a key named by its alias (a
// replication store's key, pipeline.Replication): IAM cannot name a key by alias, so the grant
// covers the keys of one account and region, narrowed by the kms:ResourceAliases condition to those
// that carry the alias.
var AliasedKeys = `/^Resource::arn:` + partition + `:kms:` + region + `:` + account + `:key\/\*$/g`

// NamedBucketObjects is the appliesTo entry for the objects of a bucket that a grant names by its
// physical name: another stack's bucket, such as the pipeline's artifact bucket read from a stack
// of another account, or a replication store.
var NamedBucketObjects = `/^Resource::arn:` + partition + `:s3:::[a-z0-9.-]+\/\*$/g`

// cdk-nag reports ARNs with <AWS::Partition>, <AWS::Region> and <AWS::AccountId> in an
// environment-agnostic stack, and with their values in a stack whose environment is known (as
// under cdk deploy with credentials). Every pattern here must match both.
const (
	partition = `(<AWS::Partition>|aws[a-z-]*)`
	region    = `(<AWS::Region>|[a-z]{2}(-[a-z]+)+-[0-9])`
	account   = `(<AWS::AccountId>|[0-9]{12})`
)

// AWSManagedPolicy is the appliesTo entry for an AWS managed policy, such as
// "service-role/AWSCodeDeployRole".
func AWSManagedPolicy(name string) string {
	return `/^Policy::arn:` + partition + `:iam::aws:policy\/` + strings.ReplaceAll(regexp.QuoteMeta(name), "/", `\/`) + `$/g`
}

// CodeBuildOwnGrants are the appliesTo entries for what the library grants every CodeBuild
// project: its own log streams (log-group:/aws/codebuild/<project>:*) and the report groups named
// after it (report-group/<project>-*).
var CodeBuildOwnGrants = []string{
	`/^Resource::arn:` + partition + `:logs:` + region + `:` + account + `:log-group:\/aws\/codebuild\/<.+>:\*$/g`,
	`/^Resource::arn:` + partition + `:codebuild:` + region + `:` + account + `:report-group\/<.+>-\*$/g`,
}

// SuppressPolicies suppresses rule with appliesTo on every IAM policy below scope, including the
// policies the library adds later (a pipeline's action roles appear when its stages are added).
// It runs as a mutating aspect, before the read-only cdk-nag checks.
func SuppressPolicies(scope constructs.IConstruct, rule, reason string, appliesTo ...string) {
	awscdk.Aspects_Of(scope).Add(&policySuppressor{rule, reason, appliesTo}, &awscdk.AspectOptions{Priority: awscdk.AspectPriority_MUTATING()})
}

type policySuppressor struct {
	rule, reason string
	appliesTo    []string
}

// Visit implements awscdk.IAspect.
func (p *policySuppressor) Visit(node constructs.IConstruct) {
	if r, ok := node.(awscdk.CfnResource); ok && (*r.CfnResourceType() == "AWS::IAM::Policy" || *r.CfnResourceType() == "AWS::IAM::ManagedPolicy") {
		Suppress(node, p.rule, p.reason, p.appliesTo...)
	}
}

// EventBridgeTrust is the condition for a role that EventBridge assumes: only for rules of the
// role's own account (aws:SourceAccount and aws:SourceArn, as EventBridge documents against the
// confused-deputy problem). The rule ARN is a pattern because a rule's name is generated after its
// targets, which name the role.
func EventBridgeTrust(scope constructs.IConstruct) map[string]any {
	return map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		"ArnLike": map[string]any{"aws:SourceArn": awscdk.Stack_Of(scope).FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("events"), Resource: jsii.String("rule"), ResourceName: jsii.String("*"),
		})},
	}
}

// ConfineEventBridgeRoles adds EventBridgeTrust to every role below scope that trusts
// events.amazonaws.com without a condition, such as the roles the library makes for a rule that
// starts a pipeline or a build. It runs as a mutating aspect, so it also reaches roles added later.
func ConfineEventBridgeRoles(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(&eventRoles{}, &awscdk.AspectOptions{Priority: awscdk.AspectPriority_MUTATING()})
}

type eventRoles struct{}

// Visit implements awscdk.IAspect.
func (*eventRoles) Visit(node constructs.IConstruct) {
	role, ok := node.(awsiam.CfnRole)
	if !ok {
		return
	}
	doc, _ := awscdk.Stack_Of(node).Resolve(role.AssumeRolePolicyDocument()).(map[string]any)
	statements, _ := doc["Statement"].([]any)
	for i, st := range statements {
		statement, _ := st.(map[string]any)
		principal, _ := statement["Principal"].(map[string]any)
		if principal["Service"] == "events.amazonaws.com" && statement["Condition"] == nil {
			role.AddPropertyOverride(jsii.String(fmt.Sprintf("AssumeRolePolicyDocument.Statement.%d.Condition", i)), EventBridgeTrust(node))
		}
	}
}

// NewLogGroup returns a Retained log group encrypted with key, for build output, which can carry
// anything a build printed. CloudWatch Logs uses the key as its regional service principal, for
// this account's log groups only (the encryption-context condition AWS documents).
func NewLogGroup(scope constructs.Construct, id string, key awskms.IKey, retention awslogs.RetentionDays) awslogs.LogGroup {
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logs."+*awscdk.Aws_REGION()+".amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ArnLike": map[string]any{
			"kms:EncryptionContext:aws:logs:arn": "arn:" + *awscdk.Aws_PARTITION() + ":logs:" + *awscdk.Aws_REGION() + ":" + *awscdk.Aws_ACCOUNT_ID() + ":log-group:*",
		}},
	}), jsii.Bool(false))
	return awslogs.NewLogGroup(scope, jsii.String(id), &awslogs.LogGroupProps{
		Retention:     retention,
		EncryptionKey: key,
		RemovalPolicy: Retained,
	})
}
