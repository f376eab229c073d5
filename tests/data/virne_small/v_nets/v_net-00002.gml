graph [
  id 2
  arrival_time 61.0
  lifetime 900.0
  num_nodes 4
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
    cpu 20
  ]
  node [
    id 1
    label "1"
    cpu 15
  ]
  node [
    id 2
    label "2"
    cpu 4
  ]
  node [
    id 3
    label "3"
    cpu 11
  ]
  edge [
    source 0
    target 1
    bw 10
  ]
  edge [
    source 1
    target 2
    bw 25
  ]
  edge [
    source 2
    target 3
    bw 40
  ]
]
