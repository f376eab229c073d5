from testbed.images import main

main()
