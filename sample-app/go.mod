module sample-app

go 1.20
