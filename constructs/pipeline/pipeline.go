// Package pipeline provides the CodePipeline (type V2) and its artifact store: a KMS-encrypted,
// versioned, TLS-only bucket with access logs and a lifecycle, which the other construct packages'
// stages and actions plug into.
package pipeline

import (
	"maps"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// Props configures a Pipeline. Nil props means all defaults.
type Props struct {
	// PipelineName is the pipeline's physical name.
	// Default: a name CloudFormation generates.
	PipelineName *string
	// ArtifactBucket stores the artifacts that pass between stages.
	// Default: a new bucket encrypted with ArtifactKey, versioned, TLS only, with public access
	// blocked and server access logs, retained. It never expires an artifact: CodeDeploy deploys
	// the last successful revision again to every instance Auto Scaling launches, and rolls back to
	// the one before, however old they are. Old versions of a replaced object (the build cache)
	// expire after 7 days.
	ArtifactBucket awss3.IBucket
	// ArtifactKey encrypts the artifacts; build projects and deploy targets are granted it.
	// Default: ArtifactBucket's key when ArtifactBucket is given, otherwise a new customer-managed
	// key with rotation on, retained.
	ArtifactKey awskms.IKey
	// ExecutionMode decides what a new execution does while another runs.
	// Default: awscodepipeline.ExecutionMode_SUPERSEDED.
	ExecutionMode awscodepipeline.ExecutionMode
	// ReplicationBuckets are CodePipeline's artifact stores in other regions, by region: one for
	// every region, other than the pipeline's, with an action (Replication makes them). The pipeline
	// role writes to them, so CodePipeline copies each action's input there.
	// Default: none; an action in another region then fails the synthesis.
	ReplicationBuckets map[string]awss3.IBucket
	// RestartExecutionOnUpdate has CloudFormation start an execution after every stack update that
	// changes the pipeline. A pipeline that deploys itself needs it: CodePipeline cancels an
	// execution whose pipeline's definition was updated before it completed (PipelineExecution's
	// status Cancelled, in CodePipeline's API reference), so the execution that updated the
	// pipeline would end there; the restart takes the branch's head through the new definition,
	// as CDK Pipelines' self-mutation does.
	// Default: false: a deploy of the stack from outside the pipeline starts nothing, and never
	// runs a release again.
	RestartExecutionOnUpdate bool
}

// Pipeline is a V2 CodePipeline with a secure artifact store.
type Pipeline struct {
	constructs.Construct
	// Pipeline is the CodePipeline; add stages to it.
	Pipeline awscodepipeline.Pipeline
	// ArtifactBucket holds the pipeline's artifacts.
	ArtifactBucket awss3.IBucket
	// ArtifactKey encrypts ArtifactBucket's objects. It is nil only for a given bucket without a key.
	ArtifactKey awskms.IKey
	// AccessLogBucket receives the artifact bucket's server access logs; other constructs may log
	// there too (a load balancer, VPC flow logs). It is nil when ArtifactBucket was given.
	AccessLogBucket awss3.IBucket

	mode awscodepipeline.ExecutionMode
}

// New creates a Pipeline.
func New(scope constructs.Construct, id *string, props *Props) *Pipeline {
	if props == nil {
		props = &Props{}
	}
	p := &Pipeline{ArtifactBucket: props.ArtifactBucket, ArtifactKey: props.ArtifactKey, mode: props.ExecutionMode}
	constructs.NewConstruct_Override(p, scope, id)
	// Access logs are delivered under a bucket policy, not the legacy ACL, whatever the app's
	// feature flags: the buckets disable ACLs.
	p.Node().SetContext(jsii.String("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"), true)
	if p.ArtifactBucket == nil {
		if p.ArtifactKey == nil {
			p.ArtifactKey = secure.NewKey(p, "ArtifactKey", "Encrypts the CI/CD pipeline's artifacts and build output.")
		}
		p.AccessLogBucket, p.ArtifactBucket = newBuckets(p, p.ArtifactKey)
	} else if p.ArtifactKey == nil {
		p.ArtifactKey = p.ArtifactBucket.EncryptionKey()
	}
	if p.mode == "" {
		p.mode = awscodepipeline.ExecutionMode_SUPERSEDED
	}
	pipelineProps := &awscodepipeline.PipelineProps{
		PipelineName:  props.PipelineName,
		PipelineType:  awscodepipeline.PipelineType_V2,
		ExecutionMode: p.mode,
		// Unless the pipeline deploys itself, a deploy of this stack must not re-run the release it
		// may be part of (see Props.RestartExecutionOnUpdate).
		RestartExecutionOnUpdate: jsii.Bool(props.RestartExecutionOnUpdate),
	}
	if len(props.ReplicationBuckets) == 0 {
		pipelineProps.ArtifactBucket = p.ArtifactBucket
	} else {
		// The library takes the artifact bucket from this map, under the pipeline's own region.
		stores := map[string]awss3.IBucket{*awscdk.Stack_Of(p).Region(): p.ArtifactBucket}
		maps.Copy(stores, props.ReplicationBuckets)
		pipelineProps.CrossRegionReplicationBuckets = &stores
	}
	p.Pipeline = awscodepipeline.NewPipeline(p, jsii.String("Pipeline"), pipelineProps)
	if len(props.ReplicationBuckets) > 0 {
		secure.SuppressPolicies(p.Pipeline, "AwsSolutions-IAM5",
			"CodePipeline copies artifacts to each region's replication store and its actions there read them, encrypted with the store's key, which other stacks name by its alias: the grant covers that account's and region's keys that carry the alias (kms:ResourceAliases).",
			secure.AliasedKeys)
	}
	// The rule that starts the pipeline on a push assumes a role the library makes.
	secure.ConfineEventBridgeRoles(p)
	secure.SuppressPolicies(p.Pipeline, "AwsSolutions-IAM5",
		"The library scopes the pipeline role and its action roles to this pipeline's artifact bucket and key; the wildcards are the artifact object keys chosen at run time and the S3 and KMS action families SSE-KMS needs.",
		secure.ArtifactGrants...)
	return p
}

// AddStage appends a stage named name with actions that run in parallel.
func (p *Pipeline) AddStage(name string, actions ...awscodepipeline.IAction) awscodepipeline.IStage {
	return p.Pipeline.AddStage(&awscodepipeline.StageOptions{StageName: jsii.String(name), Actions: &actions})
}

func newBuckets(scope constructs.Construct, key awskms.IKey) (logs, artifacts awss3.Bucket) {
	logs = secure.NewLogBucket(scope, "AccessLogs")
	// A name only when a stack of another account or region must name the bucket, which then gets
	// one CloudFormation cannot change under it.
	return logs, newArtifactBucket(scope, "ArtifactBucket", awscdk.PhysicalName_GENERATE_IF_NEEDED(), key, logs, "artifact-bucket/")
}

// newArtifactBucket returns a bucket for pipeline artifacts, encrypted with key and logging to logs
// under logPrefix: see Props.ArtifactBucket. Replication stores are made the same way.
func newArtifactBucket(scope constructs.Construct, id string, name *string, key awskms.IKey, logs awss3.IBucket, logPrefix string) awss3.Bucket {
	artifacts := awss3.NewBucket(scope, jsii.String(id), &awss3.BucketProps{
		BucketName:             name,
		Encryption:             awss3.BucketEncryption_KMS,
		EncryptionKey:          key,
		BucketKeyEnabled:       jsii.Bool(true),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		Versioned:              jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:          secure.Retained,
		ServerAccessLogsBucket: logs,
		ServerAccessLogsPrefix: jsii.String(logPrefix),
		// No expiration of current objects: see Props.ArtifactBucket.
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("ExpireReplacedVersions"),
			NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(7)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
			ExpiredObjectDeleteMarker:           jsii.Bool(true),
		}},
	})
	secure.NotifyEventBridge(artifacts)
	return artifacts
}
