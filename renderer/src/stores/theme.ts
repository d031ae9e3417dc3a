import { defineStore } from 'pinia'
import { computed, ref, watchEffect } from 'vue'

export type ThemeChoice = 'system' | 'light' | 'dark'
const KEY = 'lethe.theme'

/** Light, dark, or whatever the operating system prefers; remembered per machine. */
export const useThemeStore = defineStore('theme', () => {
  const stored = localStorage.getItem(KEY)
  const choice = ref<ThemeChoice>(stored === 'light' || stored === 'dark' ? stored : 'system')
  const media = window.matchMedia('(prefers-color-scheme: dark)')
  const systemDark = ref(media.matches)
  media.addEventListener('change', (e) => (systemDark.value = e.matches))

  const dark = computed(() => (choice.value === 'system' ? systemDark.value : choice.value === 'dark'))

  watchEffect(() => {
    document.documentElement.classList.toggle('dark', dark.value)
    localStorage.setItem(KEY, choice.value)
  })

  const toggle = () => (choice.value = dark.value ? 'light' : 'dark')
  return { choice, dark, toggle }
})
