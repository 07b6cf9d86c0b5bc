// Package deploy provides the pipeline's Deploy stage targets: a new EC2 fleet behind a load
// balancer (Fleet), existing EC2 or on-premises instances chosen by tag (Instances), and an
// existing Elastic Beanstalk environment (Beanstalk). The CodeDeploy targets roll back on their own
// when a deployment fails, is stopped, or trips an alarm.
package deploy

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
)

// Target is a place the Deploy stage releases to.
type Target interface {
	// NewAction returns the pipeline action that deploys input, named name.
	NewAction(name string, input awscodepipeline.Artifact) awscodepipeline.IAction
	// URL is the application's address, or nil where the stack cannot know it.
	URL() *string
	// DeploymentGroup is the CodeDeploy deployment group, or nil where CodeDeploy is not used.
	DeploymentGroup() awscodedeploy.IServerDeploymentGroup
	// Ready is what must be created before a first release can succeed: never nil, an empty group
	// when there is nothing to wait for. CodePipeline starts its first execution when the pipeline
	// is created, so a pipeline in the same stack should depend on it:
	// pipeline.Node().AddDependency(target.Ready()).
	Ready() constructs.IDependable
	// WatchedAlarms are the alarms a deploy stage may bake with, or nil.
	WatchedAlarms() []awscloudwatch.IAlarm
}

// ArtifactReader is a Target whose own principals read the revisions it deploys: Fleet's
// instances, and those that carry Instances' InstancePolicy. A target in another account or region
// reads them from a bucket it cannot be created with (CodePipeline's copy in its region, or the
// pipeline's bucket named from another stack), so that bucket is given afterwards. Beanstalk is not
// one (CodePipeline hands Elastic Beanstalk the revision, with the library's grants to the action
// role), nor is Existing (its instances' roles are the caller's).
type ArtifactReader interface {
	// ReadArtifacts lets the target read revisions from bucket and decrypt them with key; either
	// may be nil.
	ReadArtifacts(bucket awss3.IBucket, key awskms.IKey)
}

var (
	_ ArtifactReader = (*Fleet)(nil)
	_ ArtifactReader = (*Instances)(nil)
)

// Existing is a Target for an existing CodeDeploy deployment group, for example one imported with
// awscodedeploy.ServerDeploymentGroup_FromServerDeploymentGroupAttributes; url may be nil. The
// group keeps its own rollback and alarm configuration.
func Existing(group awscodedeploy.IServerDeploymentGroup, url *string) Target {
	return existing{group: group, url: url}
}

type existing struct {
	group awscodedeploy.IServerDeploymentGroup
	url   *string
}

func (e existing) NewAction(name string, input awscodepipeline.Artifact) awscodepipeline.IAction {
	return newServerAction(name, input, e.group)
}

func (e existing) URL() *string { return e.url }

func (e existing) DeploymentGroup() awscodedeploy.IServerDeploymentGroup { return e.group }

func (e existing) Ready() constructs.IDependable { return constructs.NewDependencyGroup() }

func (e existing) WatchedAlarms() []awscloudwatch.IAlarm { return nil }

// Config returns the CodeDeploy deployment configuration with the settings name OneAtATime,
// HalfAtATime or AllAtOnce. It panics on any other name, which settings validation rejects first.
func Config(name string) awscodedeploy.IServerDeploymentConfig {
	switch name {
	case "OneAtATime":
		return awscodedeploy.ServerDeploymentConfig_ONE_AT_A_TIME()
	case "HalfAtATime":
		return awscodedeploy.ServerDeploymentConfig_HALF_AT_A_TIME()
	case "AllAtOnce":
		return awscodedeploy.ServerDeploymentConfig_ALL_AT_ONCE()
	}
	panic(fmt.Sprintf("deploy.Config: %q is not a deployment configuration; use OneAtATime, HalfAtATime, AllAtOnce", name))
}

// rollback is the same for every CodeDeploy target: undo a release that failed, that an operator
// stopped, or that tripped an alarm while it rolled out.
func rollback(withAlarms bool) *awscodedeploy.AutoRollbackConfig {
	return &awscodedeploy.AutoRollbackConfig{
		FailedDeployment:  new(true),
		StoppedDeployment: new(true),
		DeploymentInAlarm: new(withAlarms),
	}
}
