graph [
  id 0
  arrival_time 10.0
  lifetime 400.0
  num_nodes 3
  node_attrs_setting "_networkx_list_start"
  node_attrs_setting [
    name "cpu"
    distribution "uniform"
    dtype "int"
    generative "True"
    low "0"
    high "20"
    owner "node"
    type "resource"
  ]
  link_attrs_setting [
    name "bw"
    distribution "uniform"
    dtype "int"
    generative "True"
    low "0"
    high "50"
    owner "link"
    type "resource"
  ]
  link_attrs_setting [
    name "ltc"
    owner "link"
    type "latency"
    generative "True"
    distribution "uniform"
    high "500.0"
    low "100.0"
  ]
  topology___type "path"
  output___save_dir "dataset/v_nets"
  output___events_file_name "events.yaml"
  node [
    id 0
    label "0"
    cpu 12
  ]
  node [
    id 1
    label "1"
    cpu 7
  ]
  node [
    id 2
    label "2"
    cpu 19
  ]
  edge [
    source 0
    target 1
    bw 30
    ltc 50.0
  ]
  edge [
    source 1
    target 2
    bw 45
    ltc 60.0
  ]
]
