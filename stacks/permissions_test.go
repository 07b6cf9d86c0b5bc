package stacks_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

// The permissions of every role and group, exactly, per configuration: a widened resource, an added
// action, a weakened deny or a lost grant fails TestPermissions/<configuration>/<principal>. The
// lines are cdktest.Permissions' (docs/testing.md): ${path} is a resource of the stack by its
// construct path, ${path.Arn} its ARN.
//
// When a change means to give a principal more or less, change its lines here, and say why in the
// commit: this table, not the snapshot, is where a reviewer reads what each principal may do.

// in is an ARN of the stack's account and region: in("codebuild", "report-group/x").
func in(service, resource string) string {
	return "arn:${AWS::Partition}:" + service + ":${AWS::Region}:${AWS::AccountId}:" + resource
}

const (
	artifactObjects = "${Pipeline/ArtifactBucket.Arn}, ${Pipeline/ArtifactBucket.Arn}/*"
	artifactKey     = "${Pipeline/ArtifactKey.Arn}"
	// What the library's bucket.GrantReadWrite and key.GrantEncryptDecrypt write for the pipeline's
	// roles: CodePipeline moves artifacts in and out of the bucket, encrypted with the key.
	readWriteArtifacts = "Allow s3:Abort*, s3:DeleteObject*, s3:GetBucket*, s3:GetObject*, s3:List*, s3:PutObject, s3:PutObjectLegalHold, s3:PutObjectRetention, s3:PutObjectTagging, s3:PutObjectVersionTagging on " + artifactObjects
	encryptDecrypt     = "Allow kms:Decrypt, kms:DescribeKey, kms:Encrypt, kms:GenerateDataKey*, kms:ReEncrypt* on " + artifactKey
	// A deploy target reads and decrypts, never writes.
	readArtifacts = "Allow s3:GetBucket*, s3:GetObject*, s3:List* on " + artifactObjects
	decrypt       = "Allow kms:Decrypt, kms:DescribeKey on " + artifactKey
	// The roles EventBridge assumes trust it only for rules of this account (secure.EventBridgeTrust).
	eventBridgeTrust = `Trust sts:AssumeRole by Service:events.amazonaws.com if {"ArnLike":{"aws:SourceArn":"arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/*"},"StringEquals":{"aws:SourceAccount":"${AWS::AccountId}"}}`
	pipelineTrust    = "Trust sts:AssumeRole by AWS:${Pipeline/Pipeline/Role.Arn}"
	lambdaTrust      = "Trust sts:AssumeRole by Service:lambda.amazonaws.com"
	basicExecution   = "Managed arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
)

// target names the deploy target's CodeDeploy resources, for the principals that use them.
type target struct{ application, group, config string }

var (
	fleet     = target{"${Fleet/Application}", "${Fleet/DeploymentGroup}", "CodeDeployDefault.OneAtATime"}
	instances = target{"${Instances/Application}", "${Instances/DeploymentGroup}", "CodeDeployDefault.AllAtOnce"}
)

// operators is the operators' group: the repository's pull request flow; start, stop, retry and
// roll back this pipeline; read its builds, reports, logs and deployments; list what the consoles
// list. With checks, the branch changes only through pull requests, whose check nobody overrides.
func operators(repo string, checks bool, deploy *target, approvals ...string) []string {
	projects, logs := "${Build/Project.Arn}", "${Build/Logs.Arn}, "+in("logs", "log-group:${Build/Logs}")
	if checks {
		projects += ", ${PullRequestChecks/Project.Arn}"
		logs += ", ${PullRequestChecks/Logs.Arn}, " + in("logs", "log-group:${PullRequestChecks/Logs}")
	}
	lines := []string{
		"Allow codecommit:BatchDescribeMergeConflicts, codecommit:CreatePullRequest, codecommit:CreateUnreferencedMergeCommit, codecommit:DeleteCommentContent, codecommit:Describe*, codecommit:EvaluatePullRequestApprovalRules, codecommit:Get*, codecommit:GitPull, codecommit:GitPush, codecommit:MergePullRequestByFastForward, codecommit:MergePullRequestBySquash, codecommit:MergePullRequestByThreeWay, codecommit:PostCommentForPullRequest, codecommit:PostCommentReply, codecommit:PutCommentReaction, codecommit:UpdateComment, codecommit:UpdatePullRequestApprovalState, codecommit:UpdatePullRequestDescription, codecommit:UpdatePullRequestStatus, codecommit:UpdatePullRequestTitle on " + repo,
		"Allow codepipeline:GetPipeline, codepipeline:GetPipelineExecution, codepipeline:GetPipelineState, codepipeline:ListActionExecutions, codepipeline:ListPipelineExecutions, codepipeline:StartPipelineExecution, codepipeline:StopPipelineExecution on " + in("codepipeline", "${Pipeline/Pipeline}"),
		"Allow codepipeline:OverrideStageCondition, codepipeline:RetryStageExecution, codepipeline:RollbackStage on " + in("codepipeline", "${Pipeline/Pipeline}/*"),
		"Allow codebuild:BatchGetBuilds, codebuild:BatchGetProjects, codebuild:ListBuildsForProject on " + projects,
		"Allow codebuild:BatchGetReportGroups, codebuild:GetReportGroupTrend, codebuild:ListReportsForReportGroup on ${Build/Tests.Arn}",
		"Allow codebuild:BatchGetReports, codebuild:DescribeCodeCoverages, codebuild:DescribeTestCases on " + in("codebuild", "report/Fn::Select(1,Fn::Split(/,${Build/Tests})):*"),
		"Allow logs:DescribeLogGroups, logs:DescribeLogStreams, logs:FilterLogEvents, logs:GetLogEvents, logs:GetLogGroupFields on " + logs,
		// The console list pages: no resource-level permissions exist for these.
		"Allow codebuild:ListProjects, codebuild:ListReportGroups, codecommit:ListRepositories, codedeploy:ListApplications, codepipeline:ListPipelines on *",
	}
	if deploy != nil {
		lines = append(lines,
			"Allow codedeploy:BatchGetDeployments, codedeploy:GetDeployment, codedeploy:GetDeploymentGroup, codedeploy:GetDeploymentInstance, codedeploy:GetDeploymentTarget, codedeploy:ListDeploymentInstances, codedeploy:ListDeploymentTargets, codedeploy:ListDeployments on "+in("codedeploy", "deploymentgroup:"+deploy.application+"/"+deploy.group),
			"Allow codedeploy:GetApplication, codedeploy:GetApplicationRevision on "+in("codedeploy", "application:"+deploy.application))
	}
	for _, stage := range approvals {
		lines = append(lines, "Allow codepipeline:PutApprovalResult on "+in("codepipeline", "${Pipeline/Pipeline}/"+stage+"/Approve"))
	}
	if checks {
		lines = append(lines,
			`Deny codecommit:CreateCommit, codecommit:DeleteBranch, codecommit:DeleteFile, codecommit:GitPush, codecommit:MergeBranchesByFastForward, codecommit:MergeBranchesBySquash, codecommit:MergeBranchesByThreeWay, codecommit:PutFile on `+repo+
				` if {"Null":{"codecommit:References":"false"},"StringEqualsIfExists":{"codecommit:References":["refs/heads/main"]}}`,
			"Deny codecommit:DeletePullRequestApprovalRule, codecommit:OverridePullRequestApprovalRules on "+repo)
	}
	return lines
}

// buildRole runs the buildspec: artifacts in and out, its own logs and report groups, and the JUnit
// report group it writes to.
var buildRole = []string{
	readWriteArtifacts, encryptDecrypt,
	"Allow logs:CreateLogStream, logs:PutLogEvents on ${Build/Logs.Arn}, " + in("logs", "log-group:/aws/codebuild/${Build/Project}") + ", " + in("logs", "log-group:/aws/codebuild/${Build/Project}:*"),
	"Allow logs:CreateLogGroup on " + in("logs", "log-group:/aws/codebuild/${Build/Project}") + ", " + in("logs", "log-group:/aws/codebuild/${Build/Project}:*"),
	"Allow codebuild:BatchPutTestCases, codebuild:CreateReport, codebuild:UpdateReport on ${Build/Tests.Arn}, " + in("codebuild", "report-group/${Build/Project}-*"),
	"Allow codebuild:BatchPutCodeCoverages, codebuild:CreateReportGroup on " + in("codebuild", "report-group/${Build/Project}-*"),
	"Trust sts:AssumeRole by Service:codebuild.amazonaws.com",
}

// deliveryRole reads the commits it measures, keeps its state in its table, logs, and gives up
// events to the dead-letter queue.
func deliveryRole(repo string) []string {
	return []string{
		"Allow codecommit:GetCommit on " + repo,
		"Allow dynamodb:GetItem, dynamodb:PutItem on ${Delivery/State.Arn}",
		encryptDecrypt,
		"Allow logs:CreateLogStream, logs:PutLogEvents on ${Delivery/Logs.Arn}",
		"Allow sqs:GetQueueAttributes, sqs:GetQueueUrl, sqs:SendMessage on ${Notification/RuleDeadLetters.Arn}",
		lambdaTrust,
	}
}

// notificationRoles: the formatter publishes readable messages to one topic, EventBridge the event
// JSON to the other; neither reads anything.
var notificationRoles = map[string][]string{
	"Notification/Formatter/Role": {
		"Allow sns:Publish on ${Notification/Messages}",
		"Allow kms:Decrypt, kms:GenerateDataKey* on ${Notification/Key.Arn}",
		"Allow logs:CreateLogStream, logs:PutLogEvents on ${Notification/FormatterLogs.Arn}",
		"Allow sqs:GetQueueAttributes, sqs:GetQueueUrl, sqs:SendMessage on ${Notification/RuleDeadLetters.Arn}",
		lambdaTrust,
	},
	"Notification/EventsPublisher": {
		"Allow sns:Publish on ${Notification/Events}",
		"Allow kms:Decrypt, kms:GenerateDataKey* on ${Notification/Key.Arn}",
		eventBridgeTrust,
	},
}

// pipelineRoles are the pipeline's role, which moves artifacts and assumes the action roles, the
// role of the rule that starts it on a push, and the source, build and deploy actions' roles.
func pipelineRoles(repo string, deploy *target, actionRoles []string, extra ...string) map[string][]string {
	var assume []string
	for _, r := range actionRoles {
		assume = append(assume, "${"+r+".Arn}")
	}
	roles := map[string][]string{
		"Pipeline/Pipeline/Role": append([]string{
			readWriteArtifacts, encryptDecrypt,
			"Allow sts:AssumeRole on " + strings.Join(assume, ", "),
			"Trust sts:AssumeRole by Service:codepipeline.amazonaws.com",
		}, extra...),
		"Pipeline/Pipeline/EventsRole": {
			"Allow codepipeline:StartPipelineExecution on " + in("codepipeline", "${Pipeline/Pipeline}"),
			eventBridgeTrust,
		},
		"Pipeline/Pipeline/Source/Source/CodePipelineActionRole": {
			"Allow codecommit:CancelUploadArchive, codecommit:GetBranch, codecommit:GetCommit, codecommit:GetUploadArchiveStatus, codecommit:UploadArchive on " + repo,
			readWriteArtifacts, encryptDecrypt, pipelineTrust,
		},
		"Pipeline/Pipeline/Build/Build/CodePipelineActionRole": {
			"Allow codebuild:BatchGetBuilds, codebuild:StartBuild, codebuild:StopBuild on ${Build/Project.Arn}",
			pipelineTrust,
		},
	}
	if deploy != nil {
		roles["Pipeline/Pipeline/Deploy/Deploy/CodePipelineActionRole"] = []string{
			"Allow codedeploy:CreateDeployment, codedeploy:GetDeployment on " + in("codedeploy", "deploymentgroup:"+deploy.application+"/"+deploy.group),
			"Allow codedeploy:GetApplicationRevision, codedeploy:RegisterApplicationRevision on " + in("codedeploy", "application:"+deploy.application),
			"Allow codedeploy:GetDeploymentConfig on " + in("codedeploy", "deploymentconfig:"+deploy.config),
			readArtifacts, decrypt, pipelineTrust,
		}
	}
	return roles
}

// checkRoles: the pull request check reads the repository, comments and approves, writes its logs
// and reports; the rule that starts it may start that project only; the custom resources behind the
// approval rule template and the seed's file modes run as the library's singleton function.
var checkRoles = map[string][]string{
	"PullRequestChecks/Project/Role": {
		"Allow codecommit:GetPullRequest, codecommit:GitPull, codecommit:PostCommentForPullRequest, codecommit:UpdatePullRequestApprovalState on ${Source/Repository.Arn}",
		"Allow kms:Decrypt, kms:Encrypt, kms:GenerateDataKey*, kms:ReEncrypt* on " + artifactKey,
		"Allow logs:CreateLogStream, logs:PutLogEvents on ${PullRequestChecks/Logs.Arn}, " + in("logs", "log-group:/aws/codebuild/${PullRequestChecks/Project}") + ", " + in("logs", "log-group:/aws/codebuild/${PullRequestChecks/Project}:*"),
		"Allow logs:CreateLogGroup on " + in("logs", "log-group:/aws/codebuild/${PullRequestChecks/Project}") + ", " + in("logs", "log-group:/aws/codebuild/${PullRequestChecks/Project}:*"),
		"Allow codebuild:BatchPutCodeCoverages, codebuild:BatchPutTestCases, codebuild:CreateReport, codebuild:CreateReportGroup, codebuild:UpdateReport on " + in("codebuild", "report-group/${PullRequestChecks/Project}-*"),
		"Trust sts:AssumeRole by Service:codebuild.amazonaws.com",
	},
	"PullRequestChecks/Project/EventsRole": {
		"Allow codebuild:StartBuild on ${PullRequestChecks/Project.Arn}",
		eventBridgeTrust,
	},
	"AWS679f53fac002430cb0da5b7982bd2287/ServiceRole": {
		// Approval rule templates have no ARN.
		"Allow codecommit:CreateApprovalRuleTemplate, codecommit:DeleteApprovalRuleTemplate, codecommit:UpdateApprovalRuleTemplateContent on *",
		"Allow codecommit:AssociateApprovalRuleTemplateWithRepository, codecommit:DisassociateApprovalRuleTemplateFromRepository on " + in("codecommit", "*"),
		"Allow codecommit:CreateCommit, codecommit:GetBranch on ${Source/Repository.Arn}",
		basicExecution, lambdaTrust,
	},
}

// fleetRoles: the instances read revisions and signal their readiness; CodeDeploy's role launches
// from the fleet's template only and passes the instance role to EC2 only; the library's provider
// closes the VPC's default security group.
var fleetRoles = map[string][]string{
	"Fleet/InstanceRole": {
		readArtifacts, decrypt,
		"Allow cloudformation:SignalResource on ${AWS::StackId}",
		"Managed arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore",
		"Trust sts:AssumeRole by Service:ec2.amazonaws.com",
	},
	"Fleet/DeploymentGroup/Role": {
		`Allow ec2:RunInstances on * if {"ArnEquals":{"ec2:LaunchTemplate":"` + in("ec2", "launch-template/${Fleet/LaunchTemplate}") + `"}}`,
		`Allow ec2:CreateTags on * if {"StringEquals":{"ec2:CreateAction":"RunInstances"}}`,
		`Allow iam:PassRole on ${Fleet/InstanceRole.Arn} if {"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"}}`,
		"Managed arn:${AWS::Partition}:iam::aws:policy/service-role/AWSCodeDeployRole",
		"Trust sts:AssumeRole by Service:codedeploy.amazonaws.com",
	},
	"Custom::VpcRestrictDefaultSGCustomResourceProvider/Role": {
		"Allow ec2:AuthorizeSecurityGroupEgress, ec2:AuthorizeSecurityGroupIngress, ec2:RevokeSecurityGroupEgress, ec2:RevokeSecurityGroupIngress on " + in("ec2", "security-group/${Fleet/Vpc.DefaultSecurityGroup}"),
		basicExecution, lambdaTrust,
	},
}

// permissions are every configuration's principals and what each may do.
var permissions = map[string]map[string][]string{
	"default": merge(
		map[string][]string{
			"Operators/Group":        operators("${Source/Repository.Arn}", true, &fleet, "Approve"),
			"Build/Project/Role":     buildRole,
			"Delivery/Function/Role": deliveryRole("${Source/Repository.Arn}"),
			// The approval action needs nothing: nobody is told without approvers.
			"Pipeline/Pipeline/Approve/Approve/CodePipelineActionRole": {pipelineTrust},
		},
		notificationRoles, checkRoles, fleetRoles,
		pipelineRoles("${Source/Repository.Arn}", &fleet, []string{
			"Pipeline/Pipeline/Approve/Approve/CodePipelineActionRole", "Pipeline/Pipeline/Build/Build/CodePipelineActionRole",
			"Pipeline/Pipeline/Deploy/Deploy/CodePipelineActionRole", "Pipeline/Pipeline/Source/Source/CodePipelineActionRole",
		}, "Allow cloudwatch:DescribeAlarmHistory, cloudwatch:DescribeAlarms on ${Fleet/ServerErrors.Arn}, ${Fleet/SlowResponses.Arn}"),
	),
	// An imported repository (by name), tagged instances, no approval, no checks, a Firehose
	// subscriber.
	"instances": merge(
		map[string][]string{
			"Operators/Group":        operators(in("codecommit", "legacy-app"), false, &instances),
			"Build/Project/Role":     buildRole,
			"Delivery/Function/Role": deliveryRole(in("codecommit", "legacy-app")),
			"Instances/DeploymentGroup/Role": {
				"Managed arn:${AWS::Partition}:iam::aws:policy/service-role/AWSCodeDeployRole",
				"Trust sts:AssumeRole by Service:codedeploy.amazonaws.com",
			},
			// Not a principal: the policy the tagged instances' role takes on, to read revisions.
			"Instances/InstancePolicy": {
				"Allow s3:GetObject, s3:GetObjectVersion on ${Pipeline/ArtifactBucket.Arn}/*",
				"Allow s3:GetBucketLocation, s3:ListBucket on ${Pipeline/ArtifactBucket.Arn}",
				"Allow kms:Decrypt on " + artifactKey,
			},
			// SNS writes to the subscriber's stream with this role, and to that stream only.
			"Notification/Subscriberdacb6995/TopicSubscriptionRole": {
				"Allow firehose:DescribeDeliveryStream, firehose:ListDeliveryStreams, firehose:ListTagsForDeliveryStream, firehose:PutRecord, firehose:PutRecordBatch on arn:aws:firehose:us-east-1:123456789012:deliverystream/events",
				"Trust sts:AssumeRole by Service:sns.amazonaws.com",
			},
		},
		notificationRoles,
		pipelineRoles(in("codecommit", "legacy-app"), &instances, []string{
			"Pipeline/Pipeline/Build/Build/CodePipelineActionRole", "Pipeline/Pipeline/Deploy/Deploy/CodePipelineActionRole",
			"Pipeline/Pipeline/Source/Source/CodePipelineActionRole",
		}),
	),
	// Elastic Beanstalk: the deploy action's role, which only the pipeline's role assumes, carries
	// AWS's Beanstalk administrator policy and reads the artifacts; approvers are told through the
	// approval topic.
	"beanstalk": merge(
		map[string][]string{
			"Operators/Group":        operators("${Source/Repository.Arn}", true, nil, "Approve"),
			"Build/Project/Role":     buildRole,
			"Delivery/Function/Role": deliveryRole("${Source/Repository.Arn}"),
			"Beanstalk/ActionRole": {
				readArtifacts, decrypt,
				"Managed arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess-AWSElasticBeanstalk",
				pipelineTrust,
			},
			"Pipeline/Pipeline/Approve/Approve/CodePipelineActionRole": {
				"Allow sns:Publish on ${Approval/Topic}",
				"Allow kms:Decrypt, kms:GenerateDataKey* on ${Notification/Key.Arn}",
				pipelineTrust,
			},
		},
		notificationRoles, checkRoles,
		pipelineRoles("${Source/Repository.Arn}", nil, []string{
			"Beanstalk/ActionRole", "Pipeline/Pipeline/Approve/Approve/CodePipelineActionRole",
			"Pipeline/Pipeline/Build/Build/CodePipelineActionRole", "Pipeline/Pipeline/Source/Source/CodePipelineActionRole",
		}),
	),
}

// permissionsOf is the lines of cdktest.Permissions for one principal.
func permissionsOf(t *testing.T, s *cdktest.Synthesized, path string) []string {
	t.Helper()
	lines, err := s.Permissions(path)
	require.NoError(t, err)
	return lines
}

func merge(tables ...map[string][]string) map[string][]string {
	out := map[string][]string{}
	for _, t := range tables {
		maps.Copy(out, t)
	}
	return out
}

// TestPermissions: every role and group of each configuration has exactly the permissions of
// permissions, and none is left out of it.
func TestPermissions(t *testing.T) {
	for _, name := range slices.Sorted(maps.Keys(permissions)) {
		s := synth(t, name)
		principals := permissions[name]
		var pinned []string
		for path := range principals {
			if !strings.HasSuffix(path, "Policy") {
				pinned = append(pinned, path)
			}
		}
		assert.ElementsMatch(t, s.Principals(), pinned, "%s: every role and group of the template, and only those, is pinned in permissions", name)
		for _, path := range slices.Sorted(maps.Keys(principals)) {
			t.Run(name+"/"+path, func(t *testing.T) { s.HasPermissions(t, path, principals[path]...) })
		}
	}
}
