import type { Component } from 'vue'
import {
  Collection,
  DataAnalysis,
  Document,
  Odometer,
  Setting,
  Tickets,
  VideoPlay,
} from '@element-plus/icons-vue'

/** The product's areas, in navigation order; Alt+1…7 jumps to each. */
export interface Area {
  path: string
  title: string
  icon: Component
  /** What the area is for, shown in its header. */
  purpose: string
}

export const areas: Area[] = [
  {
    path: '/',
    title: 'Dashboard',
    icon: Odometer,
    purpose: 'Deadlines, open requests and the state of this installation.',
  },
  {
    path: '/requests',
    title: 'Requests',
    icon: Tickets,
    purpose: 'Erasure requests: intake, identity checks, decisions and deadlines.',
  },
  {
    path: '/models',
    title: 'Models',
    icon: DataAnalysis,
    purpose: 'Registered datasets and models, their versions and lineage.',
  },
  {
    path: '/runs',
    title: 'Runs',
    icon: VideoPlay,
    purpose: 'Unlearning runs with live progress and their verification.',
  },
  {
    path: '/certificates',
    title: 'Certificates',
    icon: Document,
    purpose: 'Signed certificates of removal, and verification of any PDF.',
  },
  {
    path: '/ledger',
    title: 'Ledger',
    icon: Collection,
    purpose: 'The tamper-evident audit log and its chain verification.',
  },
  {
    path: '/settings',
    title: 'Settings',
    icon: Setting,
    purpose: 'Appearance, organisation, keys and compute backend.',
  },
]
