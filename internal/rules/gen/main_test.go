package main

import (
	"os"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTableIsCurrent fails when aws-cdk-go was upgraded without regenerating the instance-type
// table: run go generate ./internal/rules.
func TestTableIsCurrent(t *testing.T) {
	defer jsii.Close()
	want, err := Generate()
	require.NoError(t, err)
	got, err := os.ReadFile("../ec2types.go")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "run go generate ./internal/rules")
}
