package selfupdate

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/constructs/pullrequest"
	"github.com/pipekit/cdk-pipeline/internal/guard"
)

// ReviewProps configures the infrastructure review of pull requests.
type ReviewProps struct {
	// Repository holds the app; its pull requests are reviewed.
	// Default: none; required.
	Repository awscodecommit.IRepository
	// Branch is the pipeline's branch: merging into it needs a passing review.
	// Default: "main".
	Branch *string
	// EncryptionKey encrypts the review's logs.
	// Default: a new customer-managed key.
	EncryptionKey awskms.IKey
}

// ReviewComment is where the review writes its comment, relative to the repository's root.
const ReviewComment = ".review/comment.md"

// ReviewCommands are the review's commands. They run scripts/pr-diff as the pull request's target
// commit has it, not as the pull request does, so that a pull request cannot change the rules it
// is judged by; the pull request's app is synthesized, and so runs, as in any check.
var ReviewCommands = []string{
	`git show "$DESTINATION_COMMIT:scripts/pr-diff" >/tmp/pr-diff 2>/dev/null || { echo "review: the target branch has no scripts/pr-diff: merge this pipeline's app into it first (docs/self-update.md)"; false; }`,
	`bash /tmp/pr-diff "$DESTINATION_COMMIT" "` + ReviewComment + `"`,
}

// NewReview checks every pull request into Branch with the infrastructure diff against its target
// commit (scripts/pr-diff): a comment with what the change replaces, deletes, orphans and
// broadens, and the full diff cut to CodeCommit's comment limit, with a link to the build log. The
// check fails when the change replaces or deletes a stateful resource; broadened permissions are
// shown, not blocked. It is a pullrequest.Check, beside the application's: the same report, the
// same superseding of a stale revision, and an approval rule of its own that merging into Branch
// needs. It panics without a Repository.
func NewReview(scope constructs.Construct, id *string, props *ReviewProps) *pullrequest.Check {
	guard.Required("selfupdate.NewReview", "Repository", props == nil || props.Repository == nil)
	branch := props.Branch
	if branch == nil {
		branch = jsii.String("main")
	}
	return pullrequest.New(scope, id, &pullrequest.Props{
		Repository: props.Repository, Branch: branch, EncryptionKey: props.EncryptionKey,
		Description:     jsii.String("Diffs a pull request's infrastructure against its target and reports on it."),
		Commands:        ReviewCommands,
		RuntimeVersions: Runtimes,
		ComputeType:     awscodebuild.ComputeType_MEDIUM,
		Timeout:         awscdk.Duration_Minutes(jsii.Number(30)),
		// The host's own cache: the review's role may write nowhere but its logs and the pull
		// request.
		Cache:       awscodebuild.Cache_Local(awscodebuild.LocalCacheMode_CUSTOM),
		CachePaths:  []string{"/root/.cache/go-mod/**/*", "/root/.cache/go-build/**/*", "/root/.npm/**/*"},
		Variables:   map[string]string{"GOMODCACHE": "/root/.cache/go-mod", "GOCACHE": "/root/.cache/go-build", "npm_config_cache": "/root/.npm", "CDK_DISABLE_CLI_TELEMETRY": "true"},
		CommentFile: jsii.String(ReviewComment),
	})
}
