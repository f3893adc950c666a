package fence

import "runtime"

func yield() { runtime.Gosched() }
