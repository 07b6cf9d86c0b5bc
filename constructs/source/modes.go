package source

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// maxModeChanges is CodeCommit's limit on the files one commit may change.
const maxModeChanges = 100

// executables lists the files of a seed directory that have an execute bit and that the seed
// keeps (see SeedExcludes), as slash-separated paths relative to dir, sorted. A pattern excludes a
// file when it matches the file's name or the name of any folder on its path, as the asset's
// glob excludes do.
func executables(dir string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && excluded(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o111 != 0 {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			found = append(found, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(found)
	return found, err
}

func excluded(name string) bool {
	for _, pattern := range SeedExcludes {
		if ok, _ := path.Match(pattern, name); ok {
			return true
		}
	}
	return false
}

// restoreModes adds the commit that marks files executable on branch, right after CloudFormation
// seeded the repository: CloudFormation unpacks the seed zip without file modes (aws-cdk issue
// 24083), and CodeCommit's CreateCommit can set them. It runs once, when the repository is
// created; later stack updates never commit again.
func restoreModes(scope constructs.Construct, repo awscodecommit.IRepository, branch *string, files []string, key awskms.IKey) constructs.IDependable {
	if len(files) > maxModeChanges {
		panic(fmt.Sprintf("source.New: props.SeedDirectory has %d executable files; one CodeCommit commit changes at most %d", len(files), maxModeChanges))
	}
	policy := customresources.AwsCustomResourcePolicy_FromSdkCalls(&customresources.SdkCallsPolicyOptions{
		Resources: jsii.Strings(*repo.RepositoryArn()),
	})
	tip := secure.NewAwsCustomResource(scope, "SeedTip", key, &customresources.AwsCustomResourceProps{
		OnCreate: &customresources.AwsSdkCall{
			Service: jsii.String("CodeCommit"), Action: jsii.String("getBranch"),
			Parameters:         map[string]any{"repositoryName": repo.RepositoryName(), "branchName": branch},
			PhysicalResourceId: customresources.PhysicalResourceId_FromResponse(jsii.String("branch.commitId")),
			OutputPaths:        jsii.Strings("branch.commitId"),
		},
		Policy: policy,
	})
	modes := make([]map[string]string, len(files))
	for i, f := range files {
		modes[i] = map[string]string{"filePath": f, "fileMode": "EXECUTABLE"}
	}
	commit := secure.NewAwsCustomResource(scope, "SeedModes", key, &customresources.AwsCustomResourceProps{
		OnCreate: &customresources.AwsSdkCall{
			Service: jsii.String("CodeCommit"), Action: jsii.String("createCommit"),
			Parameters: map[string]any{
				"repositoryName": repo.RepositoryName(), "branchName": branch,
				"parentCommitId": commitOf(tip),
				"authorName":     "AWS CloudFormation",
				"commitMessage":  "Mark the seed's executable files executable\n\nCloudFormation creates the first commit without file modes.",
				"setFileModes":   modes,
			},
			PhysicalResourceId: customresources.PhysicalResourceId_FromResponse(jsii.String("commitId")),
			// The response lists every file changed; CloudFormation takes at most 4 KB back.
			OutputPaths: jsii.Strings("commitId"),
		},
		Policy: policy,
	})
	return commit
}

// commitOf is the commit that SeedTip read: its physical id (Ref), not its response field
// branch.commitId. On a stack update that changes SeedTip (another branch or repository name, or
// a CDK release that renders its call differently), the handler has no update call to make and
// answers with no data but the physical id it kept; Fn::GetAtt of the field would then fail the
// update ("Vendor response doesn't contain branch.commitId", aws-cdk issue 7061).
func commitOf(tip customresources.AwsCustomResource) *string {
	return tip.Node().DefaultChild().(awscdk.CustomResource).Ref()
}
