package operators_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"

	"github.com/pipekit/cdk-pipeline/constructs/operators"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// Example lets two existing users push to and pull from one repository, and nothing else.
func Example() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Example"), nil)
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("app"))
	operators.New(stack, jsii.String("Operators"), &operators.Props{Repository: repo, Users: []string{"alice", "bob"}})
	fmt.Println(cdktest.Count(stack, "AWS::IAM::Group", "AWS::IAM::User", "AWS::IAM::UserToGroupAddition"))
	// Output:
	// AWS::IAM::Group: 1
	// AWS::IAM::User: 0
	// AWS::IAM::UserToGroupAddition: 2
}

func TestNagClean(t *testing.T) {
	stack := cdktest.NewStack("Test")
	operators.New(stack, jsii.String("Operators"), nil)
	assert.Empty(t, cdktest.Synth(t, stack).NagErrors)
}
