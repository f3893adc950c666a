# fencelab — the README says what each target is for.
GO       ?= go
FUZZTIME ?= 20s
BENCHTIME ?= 1s

.PHONY: test vet unit bench fuzz run guests bundle loadtest

## test: everything CI runs (go vet, also of the browser build; gofmt;
## every native package under -race, the browser tests in Chromium among
## them).
test: vet unit

vet:
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./wasm ./web/ceiling
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
GUEST_CFLAGS = --target=wasm32-wasi -O2 -Wall -Werror -s -Iguests/include -I/usr/include/libdrm
GUEST_C := $(wildcard guests/c/*.c)

guests: $(GUEST_C:guests/c/%.c=$(GUESTBIN)/%.wasm)

$(GUESTBIN)/%.wasm: guests/c/%.c guests/include/fencelab.h guests/include/sys/ioccom.h
	@mkdir -p $(GUESTBIN)
	$(CLANG) $(GUEST_CFLAGS) -o $@ $<

## bundle: the browser bundle in $(WEB): the page, Go's wasm_exec.js (from
## the toolchain, never vendored), fencelab.wasm and its gzip and brotli
## copies (brotli only if the brotli tool is installed). The compressed
## copies are remade only when the build's output changed.
WEB ?= build/web
WEB_STATIC := $(wildcard web/*.html web/*.js web/*.css)

bundle:
	@mkdir -p $(WEB)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags='-s -w' -o $(WEB)/fencelab.wasm.new ./wasm
	@if cmp -s $(WEB)/fencelab.wasm.new $(WEB)/fencelab.wasm; then rm $(WEB)/fencelab.wasm.new; \
	else mv $(WEB)/fencelab.wasm.new $(WEB)/fencelab.wasm; rm -f $(WEB)/fencelab.wasm.gz $(WEB)/fencelab.wasm.br; fi
	cp $(WEB_STATIC) $(WEB)/
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" $(WEB)/
	@if [ ! -e $(WEB)/fencelab.wasm.gz ]; then echo "gzip -9 fencelab.wasm"; gzip -9 -k -f $(WEB)/fencelab.wasm; fi
	@if ! command -v brotli >/dev/null; then \
		echo "bundle: brotli is not installed (apt install brotli): the wasm is served gzipped"; rm -f $(WEB)/fencelab.wasm.br; \
	elif [ ! -e $(WEB)/fencelab.wasm.br ]; then \
		echo "brotli -q 11 fencelab.wasm (about half a minute)"; brotli -q 11 -k -f $(WEB)/fencelab.wasm; \
		touch -r $(WEB)/fencelab.wasm $(WEB)/fencelab.wasm.br; fi
	@ls -l $(WEB)/fencelab.wasm*

## run: build the browser bundle and serve it on 127.0.0.1:8080 with the
## dev server, which keeps every run's timeline in $(RECORDINGS) and
## rebuilds the bundle when its sources change.
RECORDINGS ?= recordings

run: bundle
	$(GO) run ./cmd/devserver -addr 127.0.0.1:8080 -web $(WEB) -recordings $(RECORDINGS) -rebuild '$(MAKE) bundle'

## loadtest: the dev server's bounded load test (8 streaming clients, 10 s).
loadtest:
	FENCELAB_LOADTEST=1 $(GO) test -count=1 -run '^TestLoad$$' -v ./cmd/devserver
