package approval_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"

	"github.com/pipekit/cdk-pipeline/constructs/approval"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// Example asks two approvers, by email, to approve a commit after looking at the release.
func Example() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Example"), nil)
	a := approval.New(stack, jsii.String("Approval"), &approval.Props{
		Emails:          []string{"lead@example.com", "qa@example.com"},
		SourceNamespace: jsii.String("SourceVariables"),
		ReviewURL:       jsii.String("https://beta.example.com"),
	})
	fmt.Println(*a.Action.ActionProperties().ActionName)
	fmt.Println(cdktest.Count(stack, "AWS::SNS::Topic", "AWS::SNS::Subscription", "AWS::KMS::Key"))
	// Output:
	// Approve
	// AWS::SNS::Topic: 1
	// AWS::SNS::Subscription: 2
	// AWS::KMS::Key: 1
}

func TestNoApproversNoTopic(t *testing.T) {
	stack := cdktest.NewStack("Test")
	a := approval.New(stack, jsii.String("Approval"), nil)
	assert.Nil(t, a.Topic)
	assert.Empty(t, *a.Node().Children(), "no topic, no key")
}
