# fencelab — the README says what each target is for.
GO       ?= go
FUZZTIME ?= 20s
BENCHTIME ?= 1s

.PHONY: test vet unit bench fuzz run guests

## test: everything CI runs (go vet, gofmt, every native package under -race).
test: vet unit

vet:
	$(GO) vet ./...
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then \
		echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi

unit:
	$(GO) test -race -count=1 ./...

## bench: the benchmarks behind BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count=1 ./...

## fuzz: every fuzz target in turn, FUZZTIME each (make fuzz FUZZTIME=5m).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

## guests: the C guests, guests/c/*.c → $(GUESTBIN)/*.wasm, with Debian's
## clang, lld and wasi-libc (the built .wasm files are committed; a test
## checks they are what this rule builds).
CLANG    ?= clang
GUESTBIN ?= guests/bin
GUEST_CFLAGS = --target=wasm32-wasi -O2 -Wall -Werror -Iguests/include -I/usr/include/libdrm
GUEST_C := $(wildcard guests/c/*.c)

guests: $(GUEST_C:guests/c/%.c=$(GUESTBIN)/%.wasm)

$(GUESTBIN)/%.wasm: guests/c/%.c guests/include/fencelab.h guests/include/sys/ioccom.h
	@mkdir -p $(GUESTBIN)
	$(CLANG) $(GUEST_CFLAGS) -o $@ $<

## run: build the browser bundle and serve it on 127.0.0.1:8080.
run:
	@echo "make run: the browser machine (present/, wasm/, web/) is not built yet;"
	@echo "it lands with the browser issue. Today: make test, make bench, make fuzz."
	@exit 2
