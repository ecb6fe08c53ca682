"""Result outreach: drafting the candidate's message, approval, and reliable delivery."""
