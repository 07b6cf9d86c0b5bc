package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// ReplicationProps configures a Replication.
type ReplicationProps struct {
	// BucketName names the bucket (ReplicationBucketName makes one). Stacks of other regions and
	// accounts must name it when they are synthesized: the pipeline's artifact stores, and the
	// policies of deploy targets that read it.
	// Required.
	BucketName *string
	// AliasName names the key's alias, by which other stacks refer to the key (KMS keys have no
	// names): "alias/..." in the bucket's account and region.
	// Required.
	AliasName *string
	// Readers are the accounts, other than the bucket's own, whose deploy targets in the region read
	// the replicated artifacts. The bucket and key policies admit these accounts' roots, which always
	// exist, so the stack holding the Replication never waits for a reader's roles; each reader's own
	// policies name its principals, as the library's grants on Store write them.
	// Default: none.
	Readers []*string
}

// Replication is CodePipeline's artifact store in a region other than the pipeline's: a bucket
// encrypted with a key of its own, both in the pipeline's account, to which CodePipeline copies the
// artifacts that actions of that region read. Put it in a stack of the pipeline's account in that
// region, deployed before the pipeline's stack, and give Store() to the pipeline's
// Props.ReplicationBuckets.
//
// aws-cdk-lib makes these stores itself when it is not given them, but in the stack of the first
// action of the region, which may be another account's: that bucket's policy would then name the
// pipeline's role before it exists, and a second environment of the region, in the pipeline's
// account, could not share it (CannotUseCrossEnvironment).
type Replication struct {
	constructs.Construct
	// Bucket holds the copies. Like the artifact bucket it is versioned, logged, TLS only, retained,
	// and never expires a current object: CodeDeploy in the region reads its revisions from here.
	Bucket awss3.Bucket
	// Key encrypts Bucket; a customer-managed key, because readers in other accounts cannot use an
	// AWS managed one.
	Key awskms.Key

	store awss3.IBucket
}

// Store is Bucket as other stacks refer to it: by BucketName, with the key by AliasName. Grants on
// it name the bucket's objects, and the keys of the bucket's account and region that carry the
// alias (the kms:ResourceAliases condition), so no stack needs a reference to this one.
func (r *Replication) Store() awss3.IBucket { return r.store }

// NewReplication creates a Replication. It panics, with one line, when BucketName or AliasName is
// missing.
func NewReplication(scope constructs.Construct, id *string, props *ReplicationProps) *Replication {
	if props == nil || props.BucketName == nil || *props.BucketName == "" {
		panic("pipeline.NewReplication: props.BucketName is required")
	}
	if props.AliasName == nil || !strings.HasPrefix(*props.AliasName, "alias/") {
		panic("pipeline.NewReplication: props.AliasName is required, and starts with alias/")
	}
	r := &Replication{}
	constructs.NewConstruct_Override(r, scope, id)
	r.Node().SetContext(jsii.String("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"), true)
	r.Key = secure.NewKey(r, "Key", "Encrypts the CI/CD pipeline's artifacts that CodePipeline copies to this region.")
	awskms.NewAlias(r, jsii.String("Alias"), &awskms.AliasProps{AliasName: props.AliasName, TargetKey: r.Key})
	logs := secure.NewLogBucket(r, "AccessLogs")
	r.Bucket = newArtifactBucket(r, "Bucket", props.BucketName, r.Key, logs, "replication-bucket/")
	for _, account := range props.Readers {
		admitReader(r.Bucket, r.Key, account)
	}
	r.store = awss3.Bucket_FromBucketAttributes(r, jsii.String("Store"), &awss3.BucketAttributes{
		BucketName:    props.BucketName,
		EncryptionKey: awskms.Alias_FromAliasName(r, jsii.String("StoreKey"), props.AliasName),
	})
	return r
}

var notBucketChars = regexp.MustCompile(`[^a-z0-9-]+`)

// ReplicationBucketName returns a bucket name for the Replication of the pipeline in the stack
// pipelineStack, of account, in region: the stack's name and the region for people, and a hash of
// all three so that the same stack name in two accounts gets two names (bucket names are global).
// It stays the same for as long as the three do, as names that other stacks refer to must.
func ReplicationBucketName(pipelineStack, account, region string) string {
	sum := sha256.Sum256([]byte(account + "/" + region + "/" + pipelineStack))
	suffix := "-" + region + "-" + hex.EncodeToString(sum[:4])
	prefix := strings.Trim(notBucketChars.ReplaceAllString(strings.ToLower(pipelineStack), "-"), "-")
	prefix = strings.TrimRight(prefix[:min(len(prefix), 63-len(suffix)-len("-replication"))], "-")
	return prefix + "-replication" + suffix
}
