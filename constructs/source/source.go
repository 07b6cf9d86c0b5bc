// Package source provides the pipeline's Source stage: a CodeCommit repository (new, seeded with an
// application, or existing) and a source action that EventBridge starts on every push to one branch.
package source

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/guard"
	"github.com/pipekit/cdk-pipeline/internal/names"
	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// Props configures a Source. Nil props means all defaults.
type Props struct {
	// Repository is an existing repository to use, for example from
	// awscodecommit.Repository_FromRepositoryName.
	// Default: a new repository named RepositoryName, retained when the stack is deleted.
	Repository awscodecommit.IRepository
	// RepositoryName names the new repository; it is ignored when Repository is given.
	// Default: "sample-app".
	RepositoryName *string
	// Branch is the branch whose pushes start the pipeline.
	// Default: "main".
	Branch *string
	// SeedDirectory is a folder whose files become the first commit of a new repository, on Branch.
	// It is packaged as a CDK asset and applied only when the repository is created. CloudFormation
	// drops file modes, so a second commit, by a custom resource, marks the files that are
	// executable in the folder executable again.
	// Default: none; the repository starts empty.
	SeedDirectory *string
	// SeedHash is the seed asset's hash, instead of one computed from SeedDirectory's content. A
	// repository that holds the app which synthesizes this stack gives the hash its seed had when
	// the repository was created, so that a synthesis from a later commit names the same asset
	// (package selfupdate/seed).
	// Default: the hash of SeedDirectory's content.
	SeedHash *string
	// SeedExecutables are the seed's files, slash-separated paths relative to SeedDirectory, that
	// the commit after the seed marks executable, instead of those with an execute bit in
	// SeedDirectory: a checkout has no file modes to read. At most 100 (one commit's limit).
	// Default: the files of SeedDirectory with an execute bit.
	SeedExecutables []string
	// LogKey encrypts the log group of the custom resource that restores the seed's file modes,
	// when the stack has no log group for its custom resources yet.
	// Default: a new customer-managed key.
	LogKey awskms.IKey
	// VariablesNamespace names the action's variables (CommitId, CommitMessage, ...), which later
	// actions read as #{<namespace>.CommitId}.
	// Default: "SourceVariables".
	VariablesNamespace *string
}

// SeedExcludes are left out of a SeedDirectory's first commit (CDK asset glob patterns): local
// build output and editor state never belong in a repository.
var SeedExcludes = []string{".git", "bin", "reports", "*.test", ".idea", ".vscode"}

// Source is a CodeCommit repository and the pipeline action that reads it.
type Source struct {
	constructs.Construct
	// Repository holds the application.
	Repository awscodecommit.IRepository
	// Branch is the branch the pipeline follows.
	Branch *string
	// Output is the artifact the action produces: the branch's files at the pushed commit.
	Output awscodepipeline.Artifact
	// Action is the source action; put it in the pipeline's first stage.
	Action awscodepipelineactions.CodeCommitSourceAction
	// Namespace is the action's variables namespace.
	Namespace *string

	ready constructs.IDependable
}

// New creates a Source. It panics when RepositoryName or Branch is not a valid name.
func New(scope constructs.Construct, id *string, props *Props) *Source {
	if props == nil {
		props = &Props{}
	}
	if props.RepositoryName != nil {
		guard.Must("source.New: props.RepositoryName", names.RepositoryName(*props.RepositoryName))
	}
	if props.Branch != nil {
		guard.Must("source.New: props.Branch", names.Branch(*props.Branch))
	}
	s := &Source{
		Repository: props.Repository,
		Branch:     orDefault(props.Branch, "main"),
		Output:     awscodepipeline.NewArtifact(jsii.String("Source"), nil),
		Namespace:  orDefault(props.VariablesNamespace, "SourceVariables"),
	}
	constructs.NewConstruct_Override(s, scope, id)
	if s.Repository == nil {
		var code awscodecommit.Code
		if props.SeedDirectory != nil {
			assetProps := &awss3assets.AssetProps{
				Path:    props.SeedDirectory,
				Exclude: jsii.Strings(SeedExcludes...),
			}
			if props.SeedHash != nil {
				assetProps.AssetHashType, assetProps.AssetHash = awscdk.AssetHashType_CUSTOM, props.SeedHash
			}
			seed := awss3assets.NewAsset(s, jsii.String("Seed"), assetProps)
			code = awscodecommit.Code_FromAsset(seed, s.Branch)
		}
		repo := awscodecommit.NewRepository(s, jsii.String("Repository"), &awscodecommit.RepositoryProps{
			RepositoryName: orDefault(props.RepositoryName, "sample-app"),
			Description:    jsii.String("Application source for the CI/CD pipeline."),
			Code:           code,
		})
		// The repository is the users' work: deleting the stack never deletes it. A failed create
		// does, because it holds nothing but the seed then, and its name would block the retry.
		repo.ApplyRemovalPolicy(secure.Retained)
		s.Repository = repo
		if props.SeedDirectory != nil {
			files := props.SeedExecutables
			if files == nil {
				var err error
				if files, err = executables(*props.SeedDirectory); err != nil {
					panic("source.New: props.SeedDirectory: " + err.Error())
				}
			}
			if len(files) > 0 {
				s.ready = restoreModes(s, repo, s.Branch, files, props.LogKey)
			}
		}
	}
	s.Action = awscodepipelineactions.NewCodeCommitSourceAction(&awscodepipelineactions.CodeCommitSourceActionProps{
		ActionName: jsii.String("Source"),
		Repository: s.Repository,
		Branch:     s.Branch,
		Output:     s.Output,
		// EventBridge starts the pipeline within seconds of a push, and costs no polling.
		Trigger:            awscodepipelineactions.CodeCommitTrigger_EVENTS,
		VariablesNamespace: s.Namespace,
	})
	return s
}

// Ready is what must exist before the pipeline first reads the repository: the commit that
// restores the seed's file modes, or nothing (an empty group) for a repository without one.
// CodePipeline starts an execution when the pipeline is created, and the source's EventBridge rule
// is created with the pipeline, so a pipeline that depends on it starts once, on the complete seed:
// pipeline.Node().AddDependency(src.Ready()).
func (s *Source) Ready() constructs.IDependable {
	if s.ready == nil {
		return constructs.NewDependencyGroup()
	}
	return s.ready
}

// CommitID is the pipeline variable expression for the commit an execution runs, for actions
// that follow the source (an approval's text, a build's environment).
func (s *Source) CommitID() *string {
	return jsii.String("#{" + *s.Namespace + ".CommitId}")
}

func orDefault(v *string, fallback string) *string {
	if v == nil || *v == "" {
		return jsii.String(fallback)
	}
	return v
}
