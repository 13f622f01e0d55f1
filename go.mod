module github.com/stackscope/stackscope

go 1.26.8

require (
	github.com/spf13/cobra v1.10.2
	golang.org/x/arch v0.32.0
)

require (
	github.com/BurntSushi/toml v1.6.0 // indirect
	github.com/go-delve/delve v1.27.2 // indirect
	github.com/ianlancetaylor/demangle v0.0.0-20260724033716-83e58baca724 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.10 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
