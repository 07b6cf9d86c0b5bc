package cdktest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB that keeps the errors a check reports.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Error(args ...any)         { r.errors = append(r.errors, fmt.Sprint(args...)) }
func (r *recorder) Errorf(f string, a ...any) { r.errors = append(r.errors, fmt.Sprintf(f, a...)) }

func path(p string) map[string]any { return map[string]any{"aws:cdk:path": "Stack/" + p} }

// template has a role with a policy that names it, a managed policy of the template and one of
// AWS, an inline policy, and a trust policy; a group; and a policy of another role.
var template = map[string]any{"Resources": map[string]any{
	"RoleABCD1234": map[string]any{"Type": "AWS::IAM::Role", "Metadata": path("Fleet/Role/Resource"), "Properties": map[string]any{
		"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
			"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "ec2.amazonaws.com"},
		}}},
		"ManagedPolicyArns": []any{
			map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":iam::aws:policy/AmazonSSMManagedInstanceCore"}}},
			map[string]any{"Ref": "ReadEFGH5678"},
		},
		"Policies": []any{map[string]any{"PolicyName": "inline", "PolicyDocument": map[string]any{"Statement": map[string]any{
			"Action": "cloudformation:SignalResource", "Effect": "Allow", "Resource": map[string]any{"Ref": "AWS::StackId"},
		}}}},
	}},
	"PolicyIJKL9012": map[string]any{"Type": "AWS::IAM::Policy", "Metadata": path("Fleet/Role/DefaultPolicy/Resource"), "Properties": map[string]any{
		"Roles": []any{map[string]any{"Ref": "RoleABCD1234"}},
		"PolicyDocument": map[string]any{"Statement": []any{map[string]any{
			"Action": []any{"s3:GetObject*", "s3:List*"}, "Effect": "Allow",
			"Resource": []any{map[string]any{"Fn::GetAtt": []any{"BucketMNOP3456", "Arn"}}, map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Fn::GetAtt": []any{"BucketMNOP3456", "Arn"}}, "/*"}}}},
		}, map[string]any{
			"Action": "iam:PassRole", "Effect": "Allow", "Resource": "*",
			"Condition": map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ec2.amazonaws.com"}},
		}}},
	}},
	"ReadEFGH5678": map[string]any{"Type": "AWS::IAM::ManagedPolicy", "Metadata": path("Fleet/Read/Resource"), "Properties": map[string]any{
		"PolicyDocument": map[string]any{"Statement": []any{map[string]any{"Action": "kms:Decrypt", "Effect": "Allow", "Resource": "arn:aws:kms:eu-west-1:123456789012:key/k"}}},
	}},
	"BucketMNOP3456": map[string]any{"Type": "AWS::S3::Bucket", "Metadata": path("Pipeline/Bucket/Resource")},
	"GroupQRST7890":  map[string]any{"Type": "AWS::IAM::Group", "Metadata": path("Operators/Group/Resource")},
	"OtherUVWX1234": map[string]any{"Type": "AWS::IAM::Policy", "Properties": map[string]any{
		"Roles":          []any{map[string]any{"Ref": "SomeoneElse"}},
		"PolicyDocument": map[string]any{"Statement": []any{map[string]any{"Action": "*", "Effect": "Allow", "Resource": "*"}}},
	}},
}}

func TestPermissions(t *testing.T) {
	s := &Synthesized{JSON: template}
	assert.Equal(t, []string{"Fleet/Role", "Operators/Group"}, s.Principals())
	lines, err := s.Permissions("Fleet/Role")
	require.NoError(t, err)
	want := []string{
		"Allow cloudformation:SignalResource on ${AWS::StackId}",
		`Allow iam:PassRole on * if {"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"}}`,
		"Allow kms:Decrypt on arn:aws:kms:eu-west-1:123456789012:key/k",
		"Allow s3:GetObject*, s3:List* on ${Pipeline/Bucket.Arn}, ${Pipeline/Bucket.Arn}/*",
		"Managed arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore",
		"Trust sts:AssumeRole by Service:ec2.amazonaws.com",
	}
	assert.Equal(t, want, lines)
	group, err := s.Permissions("Operators/Group")
	require.NoError(t, err)
	assert.Empty(t, group)
	_, err = s.Permissions("Nowhere")
	assert.ErrorContains(t, err, "no resource at Nowhere")

	// The same atoms, grouped otherwise, pass; each widening, loss or change fails, naming the
	// principal.
	r := &recorder{}
	s.HasPermissions(r, "Fleet/Role", append([]string{
		"Allow s3:GetObject* on ${Pipeline/Bucket.Arn}, ${Pipeline/Bucket.Arn}/*",
		"Allow s3:List* on ${Pipeline/Bucket.Arn}/*, ${Pipeline/Bucket.Arn}",
	}, want[:3]...)...)
	require.Len(t, r.errors, 1, "the managed policy and the trust are missing from the test")
	assert.Contains(t, r.errors[0], "Fleet/Role: its permissions are not the test's")
	assert.Contains(t, r.errors[0], "unexpected: Managed arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore")
	for _, changed := range [][]string{
		{want[0], `Allow iam:PassRole on * if {"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}`, want[2], want[3], want[4], want[5]},
		{want[0], want[1], want[2], "Allow s3:GetObject* on ${Pipeline/Bucket.Arn}, ${Pipeline/Bucket.Arn}/*", want[4], want[5]},
		{want[0], want[1], want[2], want[3], want[4], "Trust sts:AssumeRole by Service:lambda.amazonaws.com"},
		{want[0], want[1], want[2], want[3], want[4]},
	} {
		r := &recorder{}
		s.HasPermissions(r, "Fleet/Role", changed...)
		assert.Len(t, r.errors, 1, strings.Join(changed, "\n"))
	}
	r = &recorder{}
	s.HasPermissions(r, "Fleet/Role", want...)
	assert.Empty(t, r.errors)
	s.HasPermissions(r, "Fleet/Role", "Permit everything")
	assert.Len(t, r.errors, 1, "a line that is not Allow, Deny, Managed or Trust")
}
