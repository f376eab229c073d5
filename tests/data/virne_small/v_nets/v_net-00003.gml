graph [
  id 3
  arrival_time 80.0
  lifetime 50.0
  num_nodes 1
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
    cpu 9
  ]
]
