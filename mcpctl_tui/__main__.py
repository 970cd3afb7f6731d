from mcpctl_tui.cli import main

main()
