graph [
  id 1
  arrival_time 35.5
  lifetime 120.25
  num_nodes 2
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
  link_attrs_setting "_networkx_list_start"
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
  topology___type "path"
  output___save_dir "dataset/v_nets"
  output___events_file_name "events.yaml"
  node [
    id 0
    label "0"
    cpu 3
  ]
  node [
    id 1
    label "1"
    cpu 0
  ]
  edge [
    source 0
    target 1
    bw 0
  ]
]
