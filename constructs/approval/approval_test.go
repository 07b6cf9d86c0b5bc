package approval_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"

	"github.com/pipekit/cdk-pipeline/constructs/approval"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// Example asks two approvers, by email, to approve a commit after looking at the release.
func Example() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("ApprovalExample"), nil)
	a := approval.New(stack, jsii.String("Approval"), &approval.Props{
		Emails:          []string{"lead@example.com", "qa@example.com"},
		SourceNamespace: jsii.String("SourceVariables"),
		ReviewURL:       jsii.String("https://beta.example.com"),
	})
	template := assertions.Template_FromStack(stack, nil)
	fmt.Println(*a.Action.ActionProperties().ActionName)
	fmt.Println(len(*template.FindResources(jsii.String("AWS::SNS::Subscription"), nil)), "approvers subscribed")
	// Output:
	// Approve
	// 2 approvers subscribed
}

// TestNilProps: with nobody to tell there is no topic and no key.
func TestNilProps(t *testing.T) {
	stack := cdktest.NewStack("Test")
	a := approval.New(stack, jsii.String("Approval"), nil)
	assert.Nil(t, a.Topic)
	assert.Empty(t, *a.Node().Children(), "no topic, no key")
	assert.PanicsWithValue(t, `approval.New: props.Emails: "lead" is not an email address`, func() {
		approval.New(stack, jsii.String("Bad"), &approval.Props{Emails: []string{"lead"}})
	})
}
