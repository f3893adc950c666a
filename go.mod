module fencelab

go 1.26
