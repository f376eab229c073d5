graph [
  num_nodes 6
  node_attrs_setting [
    name "cpu"
    distribution "uniform"
    dtype "int"
    generative "True"
    low "50"
    high "100"
    owner "node"
    type "resource"
  ]
  node_attrs_setting [
    name "max_cpu"
    originator "cpu"
    owner "node"
    type "extrema"
  ]
  link_attrs_setting [
    name "bw"
    distribution "uniform"
    dtype "int"
    generative "True"
    low "50"
    high "100"
    owner "link"
    type "resource"
  ]
  link_attrs_setting [
    name "max_bw"
    originator "bw"
    owner "link"
    type "extrema"
  ]
  link_attrs_setting [
    name "ltc"
    owner "link"
    type "latency"
    generative "True"
    distribution "customized"
    max "100.0"
    min "0.0"
  ]
  topology___type "waxman"
  topology___num_nodes "6"
  virne_metadata_json "{&#34;link_attrs_setting&#34;: [], &#34;node_attrs_setting&#34;: [], &#34;schema_version&#34;: 1, &#34;structured_graph_attrs&#34;: {}}"
  node [
    id 0
    label "0"
    cpu 80
    max_cpu 80
  ]
  node [
    id 1
    label "1"
    cpu 55
    max_cpu 55
  ]
  node [
    id 2
    label "2"
    cpu 100
    max_cpu 100
  ]
  node [
    id 3
    label "3"
    cpu 63
    max_cpu 63
  ]
  node [
    id 4
    label "4"
    cpu 71
    max_cpu 71
  ]
  node [
    id 5
    label "5"
    cpu 90
    max_cpu 90
  ]
  edge [
    source 0
    target 1
    bw 90
    max_bw 90
    ltc 2.0
  ]
  edge [
    source 0
    target 5
    bw 95
    max_bw 95
    ltc 1.5
  ]
  edge [
    source 1
    target 2
    bw 75
    max_bw 75
    ltc 3.5
  ]
  edge [
    source 1
    target 4
    bw 70
    max_bw 70
    ltc 6.0
  ]
  edge [
    source 2
    target 3
    bw 60
    max_bw 60
    ltc 1.0
  ]
  edge [
    source 3
    target 4
    bw 85
    max_bw 85
    ltc 4.0
  ]
  edge [
    source 4
    target 5
    bw 50
    max_bw 50
    ltc 2.5
  ]
]
