package operators_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"

	"github.com/pipekit/cdk-pipeline/constructs/operators"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// Example lets two existing users work with one repository, and nothing else.
func Example() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("OperatorsExample"), nil)
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("app"))
	operators.New(stack, jsii.String("Operators"), &operators.Props{Repository: repo, Users: []string{"alice", "bob"}})
	template := assertions.Template_FromStack(stack, nil)
	fmt.Println(len(*template.FindResources(jsii.String("AWS::IAM::User"), nil)), "users created,",
		len(*template.FindResources(jsii.String("AWS::IAM::UserToGroupAddition"), nil)), "existing users added")
	// Output: 0 users created, 2 existing users added
}

// TestNilProps: a group with no permissions but the console's list actions.
func TestNilProps(t *testing.T) {
	stack := cdktest.NewStack("Test")
	operators.New(stack, jsii.String("Operators"), nil)
	assert.Empty(t, cdktest.Synth(t, stack).NagErrors)
	assert.PanicsWithValue(t, `operators.New: props.Users: "bad user" is not an IAM user name: use 1-64 letters, digits or +=,.@_-`, func() {
		operators.New(stack, jsii.String("Bad"), &operators.Props{Users: []string{"bad user"}})
	})
}
