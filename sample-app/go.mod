module sample-app

go 1.26

require (
	github.com/jstemmer/go-junit-report/v2 v2.1.0
	go.yaml.in/yaml/v3 v3.0.6
)
