module sample-app

go 1.20

require github.com/jstemmer/go-junit-report/v2 v2.1.0
