//go:build tools

// The build's tools, pinned in go.mod and go.sum like any dependency, so that buildspec.yml
// installs them from the module cache without asking the module proxy anything. The tools build
// tag keeps this file out of every build.
package main

import _ "github.com/jstemmer/go-junit-report/v2"
